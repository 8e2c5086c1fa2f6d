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


XAA_SAMPLES = [
    "broadcast.chat", "broadcast.end", "broadcast.start", "chat.received", "chat.sent", "dm.received",
    "dm.sent", "follow.follow", "follow.unfollow", "like.create", "news.new", "oauth.revoke", "post.create",
    "post.delete", "post.mention.create", "post.quote.create", "post.reply.create", "post.repost.create",
    "profile.update.banner_picture", "profile.update.bio", "profile.update.geo",
    "profile.update.profile_picture", "profile.update.screenname", "profile.update.url", "spaces.end",
    "spaces.start",
]  # fmt: skip
AAA_SAMPLES = [
    "direct_message_events", "direct_message_indicate_typing_events", "direct_message_mark_read_events",
    "tweet_delete_events", "user_event",
]  # fmt: skip


@pytest.mark.parametrize("event_type", XAA_SAMPLES)
def test_every_documented_activity_event_is_understood(sample: Sample, event_type: str) -> None:
    body = sample(f"xaa__{event_type}.json")
    brand = body["data"]["filter"].get("user_id") or body["data"]["payload"].get("user_id", "1")
    parsed = parse_body(body, brand)
    assert parsed.problems == [] and "unknown_type" not in parsed.dropped
    assert parsed.usable


@pytest.mark.parametrize("event_type", AAA_SAMPLES)
def test_every_documented_account_activity_event_is_understood(sample: Sample, event_type: str) -> None:
    body = sample(f"aaa__{event_type}.json")
    parsed = parse_body(body, body.get("for_user_id", "63046977"))
    assert parsed.problems == [] and "unknown_type" not in parsed.dropped
    assert parsed.usable


def test_revocation_without_for_user_id_flags_the_brand_account_only(sample: Sample) -> None:
    body = sample("aaa__user_event.json")
    assert "for_user_id" not in body
    assert parse_body(body, "63046977").brand_revoked  # source.user_id is the brand: alert
    assert not parse_body(body, "1111111111111111111").brand_revoked  # another user of the app
    xaa = sample("xaa__oauth.revoke.json")
    assert parse_body(xaa, xaa["data"]["payload"]["user_id"]).brand_revoked


def test_brand_posts_are_echoes_that_keep_their_place_in_the_thread(sample: Sample) -> None:
    body = sample("xaa__post.create.json")
    parsed = parse_body(body, body["data"]["filter"]["user_id"])
    [echo] = parsed.echoes
    assert parsed.messages == [] and echo.id == body["data"]["payload"]["id"]


@pytest.mark.parametrize(
    "body",
    [[], "text", {"data": "x"}, {"data": {"event_type": {"a": 1}}}, {"for_user_id": 12},
     {"for_user_id": "1", "tweet_create_events": {}}, {"for_user_id": "١٢٣"}, {"for_user_id": "²"}],
)  # fmt: skip
def test_malformed_envelopes_are_refused(body: Any) -> None:
    with pytest.raises(MalformedRequest):
        parse_body(body, "1")


@pytest.mark.parametrize(
    "tweet",
    [{"user": {}}, {"user": {"id_str": "7"}, "id_str": 12}, {"user": {"id_str": "7"}, "id_str": {"a": 1}},
     {"user": {"id_str": "7"}, "id_str": "١٢٣"}, {"user": {"id_str": "7"}, "id_str": "1" * 40}, 5, None],
)  # fmt: skip
def test_an_unreadable_item_is_set_aside_without_losing_its_neighbours(tweet: Any) -> None:
    good = {"id_str": "9", "text": "@brand hi", "user": {"id_str": "7", "screen_name": "c"}}
    parsed = parse_body({"for_user_id": "1", "tweet_create_events": [tweet, good]}, "1")
    assert [m.id for m in parsed.messages] == ["9"]
    assert len(parsed.problems) == 1 and parsed.dropped == {"malformed": 1}


@pytest.mark.parametrize(
    ("field", "value"),
    [("entities", 5), ("user.name", {"first": "C"}), ("user.screen_name", 7), ("text", ["a"]),
     ("created_at", "Mon Jan 01 00:00:00 +0000 99999"), ("in_reply_to_status_id_str", "²"),
     ("extended_tweet", "x"), ("text", "nul\x00 and lone \ud800 surrogate")],
)  # fmt: skip
def test_odd_optional_fields_are_stored_in_a_shape_every_later_step_accepts(field: str, value: Any) -> None:
    tweet: dict[str, Any] = {"id_str": "9", "text": "@brand hi", "user": {"id_str": "7", "screen_name": "c"}}
    parent, _, leaf = field.rpartition(".")
    (tweet[parent] if parent else tweet)[leaf] = value
    [msg] = parse_body({"for_user_id": "1", "tweet_create_events": [tweet]}, "1").messages
    encoded = json.dumps(msg.to_json(), ensure_ascii=False).encode("utf-8")  # no lone surrogate left
    assert b"\\u0000" not in encoded and "\x00" not in msg.text
    assert msg.in_reply_to is None or msg.in_reply_to.isascii()


def test_dm_timestamps_out_of_range_are_left_empty(sample: Sample) -> None:
    body = sample("aaa__direct_message_events.json")
    for stamp in ["9" * 30, "-99999999999999999", "١٢٣", "nan", {"a": 1}]:
        body["direct_message_events"][0]["created_timestamp"] = stamp
        [msg] = parse_body(body, "4337869213").messages
        assert msg.created_at == "" or msg.created_at.startswith("19")


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


def test_followers_are_read_from_both_envelopes(sample: Sample) -> None:
    """Care raises an influential complainer's ticket: the count comes from the user object X sends."""
    [mention] = parse_body(sample("xaa__post.mention.create.json"), "1111111111111111111").messages
    users = sample("xaa__post.mention.create.json")["data"]["includes"]["users"]
    expected = next(u for u in users if u["id"] == mention.author.id)["public_metrics"]["followers_count"]
    assert mention.author.followers == expected
    dm_body = sample("aaa__direct_message_events.json")
    [dm] = parse_body(dm_body, "4337869213").messages
    assert dm.author.followers == dm_body["users"][dm.author.id]["followers_count"]
    dm_body["users"][dm.author.id]["followers_count"] = "lots"
    assert parse_body(dm_body, "4337869213").messages[0].author.followers is None
