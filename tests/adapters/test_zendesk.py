"""Zendesk plugin specifics: signature (vendor vectors), payload shapes, provisioning."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sav_bridge_zendesk import payloads, webhook

from sav_bridge import ticket_text
from sav_bridge.errors import Unauthorized
from sav_bridge.helpdesks import load_helpdesk
from sav_bridge.model import MessageKind, SocialMessage, SocialUser, TicketRef
from tests.harness import Gateway

NOW = 1_700_000_000.0
STAMP = "2023-11-14T22:13:20Z"


def test_plugin_is_found_through_its_entry_point() -> None:
    assert load_helpdesk("zendesk").name == "zendesk"


def test_signature_is_timestamp_then_body() -> None:
    body = b'{"ticket_id":"1"}'
    headers = {webhook.SIGNATURE: webhook.sign("secret", STAMP, body), webhook.TIMESTAMP: STAMP}
    webhook.verify("secret", headers, body, NOW, 300)


def test_legacy_doc_vector_body_then_timestamp_is_refused(vendor_file: Callable[[str], Path]) -> None:
    legacy = json.loads(vendor_file("test-vectors/signature-vectors.json").read_text())[
        "zendesk_webhook_signature"
    ]["legacy_doc_vector"]
    headers = {webhook.SIGNATURE: legacy["signature"], webhook.TIMESTAMP: legacy["timestamp"]}
    from datetime import datetime

    now = datetime.fromisoformat(legacy["timestamp"].replace("Z", "+00:00")).timestamp()
    with pytest.raises(Unauthorized, match="does not match"):
        webhook.verify(legacy["secret"], headers, legacy["body"].encode(), now, 300)


@pytest.mark.parametrize(
    ("headers", "match"),
    [({}, "missing"), ({webhook.SIGNATURE: "x", webhook.TIMESTAMP: "yesterday"}, "ISO-8601")],
)
def test_malformed_signature_headers(headers: dict[str, str], match: str) -> None:
    with pytest.raises(Unauthorized, match=match):
        webhook.verify("secret", headers, b"{}", NOW, 300)


def test_requester_is_keyed_on_x_user_id_with_twitter_identity() -> None:
    body = payloads.user_upsert(SocialUser("42", "claire", None))
    assert body == {"user": {"name": "@claire", "external_id": "x:42", "role": "end-user", "skip_verify_email": True,
                             "identities": [{"type": "twitter", "value": "claire"}]}}  # fmt: skip


def test_subject_is_one_trimmed_line() -> None:
    assert ticket_text.subject("a\n\nb   c") == "a b c"
    assert len(ticket_text.subject("x" * 200)) == ticket_text.SUBJECT_LENGTH


def test_agent_replies_keep_public_agent_comments_only() -> None:
    comments = {
        "comments": [
            {"id": 1, "author_id": 10, "public": True, "body": "customer"},
            {"id": 2, "author_id": 20, "public": True, "body": "agent", "plain_body": "agent"},
            {"id": 3, "author_id": 20, "public": False, "body": "private"},
            {"id": 4, "author_id": 99, "public": True, "body": "gateway itself"},
        ],
        "users": [{"id": 10, "role": "end-user"}, {"id": 20, "role": "agent", "name": "Amélie J"},
                  {"id": 99, "role": "admin"}],
    }  # fmt: skip
    [reply] = payloads.agent_replies(TicketRef("zendesk", "5"), comments, ["sav_dm"], me=99)
    assert (reply.comment_id, reply.body, reply.agent_name, reply.wants_dm) == (
        "2",
        "agent",
        "Amélie J",
        True,
    )


def test_ticket_body_carries_tags_and_external_id() -> None:
    msg = SocialMessage("x", "1", "7", MessageKind.DM, SocialUser("42", "c", "C"), "Bonjour", "", "x:dm:1:42")
    ticket = payloads.ticket_create(msg, 500, "x.message:dm:7", None)["ticket"]
    assert ticket["tags"] == ["sav_bridge", "x_dm"] and ticket["external_id"] == "x.message:dm:7"
    assert ticket["comment"]["author_id"] == 500 and ticket["comment"]["body"].startswith("Bonjour")


async def test_provision_creates_then_updates_without_duplicates(sqlite_gateway: Gateway) -> None:
    helpdesk = sqlite_gateway.runtime.helpdesk
    out = io.StringIO()
    await helpdesk.provision("https://sav.example.com", False, out)
    await helpdesk.provision("https://sav2.example.com", False, out)
    fake = sqlite_gateway.zendesk
    [hook] = fake.webhooks.values()
    [trigger] = fake.triggers.values()
    assert hook["endpoint"] == "https://sav2.example.com/webhooks/zendesk"
    assert hook["subscriptions"] == ["conditional_ticket_events"]
    assert trigger["actions"][0]["value"][0] == hook["id"]
    assert json.loads(trigger["actions"][0]["value"][1]) == {"ticket_id": "{{ticket.id}}"}
    text = out.getvalue()
    assert "created webhook" in text and "updated webhook" in text and "updated trigger" in text
    assert "matches the webhook's signing secret" in text
    assert sqlite_gateway.zendesk.webhook_secret not in text


async def test_provision_dry_run_changes_nothing(sqlite_gateway: Gateway) -> None:
    out = io.StringIO()
    await sqlite_gateway.runtime.helpdesk.provision("https://sav.example.com", True, out)
    assert sqlite_gateway.zendesk.webhooks == {} and sqlite_gateway.zendesk.triggers == {}
    assert "POST or PUT /api/v2/webhooks" in out.getvalue() and "nothing was changed" in out.getvalue()
