"""Parsing both X envelopes, from the vendor's own sample payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sav_bridge.channels.x.events import parse_body
from sav_bridge.errors import MalformedRequest
from sav_bridge.model import MessageKind

Sample = Callable[[str], Any]


@pytest.fixture
def sample(vendor_file: Callable[[str], Path]) -> Sample:
    return lambda name: json.loads(vendor_file(f"x/samples/{name}").read_text())


def test_account_activity_dm(sample: Sample) -> None:
    parsed = parse_body(sample("aaa__direct_message_events.json"), "4337869213")
    [msg] = parsed.messages
    assert (msg.id, msg.kind, msg.text) == ("954491830116155396", MessageKind.DM, "Hello World!")
    assert (msg.author.id, msg.author.screen_name, msg.author.name) == (
        "3001969357",
        "furiouscamper",
        "Jordan Brinks",
    )
    assert msg.thread_key == "x:dm:4337869213:3001969357"
    assert msg.created_at.startswith("2018-01-19T")


def test_account_activity_dm_sent_by_us_is_an_echo(sample: Sample) -> None:
    body = sample("aaa__direct_message_events.json")
    body["direct_message_events"][0]["message_create"]["sender_id"] = "4337869213"
    parsed = parse_body(body, "4337869213")
    assert parsed.messages == [] and parsed.dropped == {"echo": 1}


def test_account_activity_long_post_uses_full_text_and_id_str(sample: Sample) -> None:
    body = sample("aaa__tweet_create_events_longform.placeholder-normalized.json")
    body["tweet_create_events"][0]["user"] = {"id_str": "42", "screen_name": "histo", "name": "H"}
    [msg] = parse_body(body, "1603419180975409153").messages
    assert msg.id == "1924465506158878979"  # id_str, not the rounded numeric id
    assert msg.text.startswith("The Antikythera Mechanism") and msg.text.endswith("Antikythera...")
    assert msg.kind is MessageKind.MENTION and msg.thread_key == "x:thread:1924465506158878979"


def test_activity_api_mention(sample: Sample) -> None:
    [msg] = parse_body(sample("xaa__post.mention.create.json"), "1111111111111111111").messages
    assert (msg.id, msg.text, msg.kind) == ("2080765813578191303", "hey @ExampleUser", MessageKind.MENTION)
    assert msg.author.screen_name == "OtherUser" and msg.mentions_brand
    assert msg.thread_key == "x:thread:2080765813578191303"


def test_activity_api_reply_threads_by_conversation_id(sample: Sample) -> None:
    [msg] = parse_body(sample("xaa__post.reply.create.json"), "1111111111111111111").messages
    assert msg.kind is MessageKind.REPLY and msg.in_reply_to == "2080761390344937796"
    assert msg.thread_key == "x:thread:2080761390344937796"


def test_activity_api_dm_with_negative_event_uuid(sample: Sample) -> None:
    body = sample("xaa__dm.received.json")
    assert body["data"]["event_uuid"].startswith("-")
    [msg] = parse_body(body, "1111111111111111111").messages
    assert (msg.kind, msg.text, msg.author.screen_name) == (MessageKind.DM, "hello!", "OtherUser")


def test_activity_api_dm_sent_is_our_echo(sample: Sample) -> None:
    parsed = parse_body(sample("xaa__dm.sent.json"), "1111111111111111111")
    assert parsed.messages == [] and parsed.dropped == {"echo": 1}


@pytest.mark.parametrize(
    "name", ["xaa__follow.follow.json", "xaa__like.create.json", "xaa__profile.update.bio.json"]
)
def test_other_activity_events_are_acknowledged_and_ignored(sample: Sample, name: str) -> None:
    body = sample(name)
    parsed = parse_body(body, body["data"]["filter"]["user_id"])
    assert parsed.messages == [] and parsed.dropped == {"unknown_type": 1}


@pytest.mark.parametrize(
    "body",
    [[], "text", {"data": "x"}, {"for_user_id": 12}, {"for_user_id": "1", "tweet_create_events": {}},
     {"for_user_id": "1", "tweet_create_events": [{"user": {}}]}],
)  # fmt: skip
def test_malformed_bodies_are_refused(body: Any) -> None:
    with pytest.raises(MalformedRequest):
        parse_body(body, "1")


def test_every_parsed_sample_matches_the_normalised_event_schema(sample: Sample) -> None:
    import jsonschema

    from sav_bridge import SCHEMA_DIR

    schema = json.loads((SCHEMA_DIR / "event.schema.json").read_text())
    for name, account in [
        ("aaa__direct_message_events.json", "4337869213"),
        ("xaa__post.mention.create.json", "1111111111111111111"),
        ("xaa__post.reply.create.json", "1111111111111111111"),
        ("xaa__dm.received.json", "1111111111111111111"),
    ]:
        for msg in parse_body(sample(name), account).messages:
            jsonschema.validate(msg.to_json(), schema)
