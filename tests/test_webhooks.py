"""Inbound webhook authentication and robustness: nothing forged, oversized or malformed is stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.helpdesks import WebhookAnswer, WebhookNotice
from tests.harness import ACCOUNT_ID, CLAIRE, CONSUMER_SECRET, Gateway

pytestmark = pytest.mark.asyncio


async def stored(gw: Gateway) -> tuple[int, int, int]:
    store = gw.runtime.store
    return await store.count("events"), await store.count("jobs"), await store.count("quarantine")


async def test_crc_answer_is_computed_from_the_consumer_secret(sqlite_gateway: Gateway) -> None:
    response = await sqlite_gateway.client.get("/webhooks/x", params={"crc_token": "challenge-123"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"response_token": sign(CONSUMER_SECRET, b"challenge-123")}


async def test_crc_without_token_is_a_clear_400(sqlite_gateway: Gateway) -> None:
    response = await sqlite_gateway.client.get("/webhooks/x")
    assert response.status_code == 400
    assert "crc_token" in response.json()["error"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({SIGNATURE_HEADER: "md5=abc"}, "sha256="),
        ({SIGNATURE_HEADER: sign("wrong-secret", b"{}")}, "does not match"),
    ],
)
async def test_forged_or_unsigned_x_post_is_refused_and_stores_nothing(
    sqlite_gateway: Gateway, headers: dict[str, str], reason: str
) -> None:
    body = json.dumps(sqlite_gateway.x.customer_post(CLAIRE, "@MaBanque hello")).encode()
    response = await sqlite_gateway.client.post("/webhooks/x", content=body, headers=headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert await stored(sqlite_gateway) == (0, 0, 0)


async def test_signature_over_a_different_body_is_refused(sqlite_gateway: Gateway) -> None:
    body = json.dumps(sqlite_gateway.x.customer_post(CLAIRE, "@MaBanque hello")).encode()
    tampered = body.replace(b"hello", b"HELLO")
    response = await sqlite_gateway.client.post(
        "/webhooks/x", content=tampered, headers={SIGNATURE_HEADER: sign(CONSUMER_SECRET, body)}
    )
    assert response.status_code == 401
    assert await stored(sqlite_gateway) == (0, 0, 0)


async def test_oversized_body_is_refused_before_reading_it_all(sqlite_gateway: Gateway) -> None:
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = await sqlite_gateway.post_x(None, raw=big)
    assert response.status_code == 413
    assert await stored(sqlite_gateway) == (0, 0, 0)


async def test_signed_but_unparseable_body_is_quarantined_not_lost(sqlite_gateway: Gateway) -> None:
    response = await sqlite_gateway.post_x(None, raw=b"this is not json")
    assert response.status_code == 400
    assert "quarantine" in response.json()["error"]
    assert await stored(sqlite_gateway) == (0, 0, 1)
    await sqlite_gateway.post_x(None, raw=b"this is not json")
    assert await stored(sqlite_gateway) == (0, 0, 1)


async def test_signed_body_of_unknown_shape_is_quarantined(sqlite_gateway: Gateway) -> None:
    response = await sqlite_gateway.post_x({"hello": "world"})
    assert response.status_code == 400
    assert "envelope" in response.json()["error"]
    assert await stored(sqlite_gateway) == (0, 0, 1)


async def test_unknown_event_types_and_retweets_are_acknowledged_and_ignored(sqlite_gateway: Gateway) -> None:
    retweet = sqlite_gateway.x.customer_post(CLAIRE, "@MaBanque RT")
    retweet["tweet_create_events"][0]["retweeted_status"] = {"id_str": "1"}
    retweet["favorite_events"] = [{"id": "x"}]
    retweet["brand_new_events"] = [{}]
    response = await sqlite_gateway.post_x(retweet)
    assert response.status_code == 200
    assert response.json()["dropped"] == {"retweet": 1, "ignored_type": 1, "unknown_type": 1}
    xaa = {"data": {"event_uuid": "1", "filter": {"user_id": sqlite_gateway.settings.x.account_id},
                    "event_type": "profile.update.bio", "payload": {}}}  # fmt: skip
    assert (await sqlite_gateway.post_x(xaa)).json()["dropped"] == {"ignored_type": 1}
    xaa["data"]["event_type"] = "brand.new.type"
    assert (await sqlite_gateway.post_x(xaa)).json()["dropped"] == {"unknown_type": 1}
    assert await stored(sqlite_gateway) == (0, 0, 0)


async def test_zendesk_doorbell_with_forged_signature_is_refused(sqlite_gateway: Gateway) -> None:
    headers, body = sqlite_gateway.zendesk.doorbell(1, secret="not-the-secret")
    response = await sqlite_gateway.client.post("/webhooks/zendesk", content=body, headers=headers)
    assert response.status_code == 401
    assert await stored(sqlite_gateway) == (0, 0, 0)


async def test_zendesk_doorbell_outside_the_window_is_refused(sqlite_gateway: Gateway) -> None:
    old = sqlite_gateway.clock.now - 301
    response = await sqlite_gateway.ring(1, at=old)
    assert response.status_code == 401
    assert "window" in response.json()["error"]
    ok = await sqlite_gateway.ring(1, at=sqlite_gateway.clock.now - 250)
    assert ok.status_code == 200


async def test_zendesk_doorbell_replayed_with_same_invocation_is_absorbed(sqlite_gateway: Gateway) -> None:
    headers, body = sqlite_gateway.zendesk.doorbell(42)
    first = await sqlite_gateway.client.post("/webhooks/zendesk", content=body, headers=headers)
    again = await sqlite_gateway.client.post("/webhooks/zendesk", content=body, headers=headers)
    assert first.json() == {"accepted": 1, "duplicates": 0}
    assert again.json() == {"accepted": 0, "duplicates": 1}


class AckingHelpdesk:
    """The Zendesk plugin answering as an outbound-message vendor must: an XML acknowledgement."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.counts: list[tuple[int, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def webhook_answer(self, notice: WebhookNotice, accepted: int) -> WebhookAnswer:
        self.counts.append((accepted, len(notice.ticket_ids)))
        return WebhookAnswer(b"<Ack>true</Ack>", "text/xml")


async def test_the_plugin_answers_the_webhook_once_its_events_are_counted(sqlite_gateway: Gateway) -> None:
    plugin = AckingHelpdesk(sqlite_gateway.runtime.helpdesk)
    sqlite_gateway.runtime.helpdesk = plugin
    headers, body = sqlite_gateway.zendesk.doorbell(42)
    first = await sqlite_gateway.client.post("/webhooks/zendesk", content=body, headers=headers)
    again = await sqlite_gateway.client.post("/webhooks/zendesk", content=body, headers=headers)
    assert (first.status_code, first.text) == (200, "<Ack>true</Ack>")
    assert first.headers["content-type"].startswith("text/xml")
    assert again.text == "<Ack>true</Ack>" and plugin.counts == [(1, 1), (0, 1)]
    assert await stored(sqlite_gateway) == (1, 1, 0)


async def test_zendesk_signed_bad_body_is_quarantined(sqlite_gateway: Gateway) -> None:
    from sav_bridge_zendesk.sandbox import hmac_sha256

    headers, _ = sqlite_gateway.zendesk.doorbell(1)
    body = b'{"ticket": "nope"}'
    headers["x-zendesk-webhook-signature"] = hmac_sha256(
        sqlite_gateway.zendesk.webhook_secret,
        headers["x-zendesk-webhook-signature-timestamp"].encode() + body,
    )
    response = await sqlite_gateway.client.post("/webhooks/zendesk", content=body, headers=headers)
    assert response.status_code == 400
    assert await stored(sqlite_gateway) == (0, 0, 1)


async def test_webhook_for_another_helpdesk_is_404(sqlite_gateway: Gateway) -> None:
    response = await sqlite_gateway.client.post("/webhooks/freshdesk", content=b"{}")
    assert response.status_code == 404


async def test_accepted_event_is_durable_before_the_answer(sqlite_gateway: Gateway) -> None:
    """The 200 comes after the commit: a second connection sees event and job at once."""
    import sqlite3

    await sqlite_gateway.post_x(sqlite_gateway.x.customer_post(CLAIRE, "@MaBanque hello"))
    path = sqlite_gateway.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
        assert conn.execute("SELECT kind, state FROM jobs").fetchall() == [("x.message", "pending")]


async def test_health_readiness_and_metrics(sqlite_gateway: Gateway) -> None:
    assert (await sqlite_gateway.client.get("/healthz")).json() == {"status": "ok"}
    assert (await sqlite_gateway.client.get("/readyz")).json() == {
        "status": "ready",
        "policy_version": "2026.12-1 (v1)",
        "alerts": [],
    }
    await sqlite_gateway.post_x(sqlite_gateway.x.customer_post(CLAIRE, "@MaBanque hello"))
    await sqlite_gateway.post_x(None, raw=b"{}", secret="forged")
    text = (await sqlite_gateway.client.get("/metrics")).text
    assert 'sav_bridge_events_in_total{kind="mention",source="x"} 1.0' in text
    assert 'sav_bridge_queue_depth{state="pending"} 1.0' in text
    assert 'sav_bridge_webhooks_rejected_total{source="x",status="401"} 1.0' in text
    await sqlite_gateway.drain()
    text = (await sqlite_gateway.client.get("/metrics")).text
    assert "sav_bridge_tickets_opened_total 1.0" in text
    assert 'sav_bridge_policy_info{source="' in text and 'version="2026.12-1 (v1)"' in text


async def test_readiness_fails_when_the_store_is_gone(sqlite_gateway: Gateway) -> None:
    await sqlite_gateway.runtime.store.close()
    response = await sqlite_gateway.client.get("/readyz")
    assert response.status_code == 503
    await sqlite_gateway.runtime.store.db.close()  # idempotent for the fixture's teardown


VENDOR_SAMPLES = [
    "aaa__direct_message_events.json", "aaa__direct_message_indicate_typing_events.json",
    "aaa__direct_message_mark_read_events.json", "aaa__tweet_delete_events.json", "aaa__user_event.json",
    "xaa__broadcast.chat.json", "xaa__chat.received.json", "xaa__dm.received.json", "xaa__dm.sent.json",
    "xaa__follow.follow.json", "xaa__like.create.json", "xaa__news.new.json", "xaa__oauth.revoke.json",
    "xaa__post.create.json", "xaa__post.delete.json", "xaa__post.mention.create.json",
    "xaa__post.quote.create.json", "xaa__post.reply.create.json", "xaa__post.repost.create.json",
    "xaa__profile.update.bio.json", "xaa__spaces.start.json",
]  # fmt: skip


def for_brand(body: Any, brand: str) -> Any:
    """A vendor sample re-addressed to our brand account, as X would deliver it to us."""
    text = json.dumps(body)
    for other in ("4337869213", "930524282358325248", "1111111111111111111", "63046977"):
        text = text.replace(other, brand)
    return json.loads(text)


@pytest.mark.parametrize("name", VENDOR_SAMPLES)
async def test_every_documented_x_event_is_acknowledged(
    sqlite_gateway: Gateway, vendor_file: Callable[[str], Path], name: str
) -> None:
    body = for_brand(json.loads(vendor_file(f"x/samples/{name}").read_text()), ACCOUNT_ID)
    response = await sqlite_gateway.post_x(body)
    assert response.status_code == 200, response.text
    assert (
        "quarantined" not in response.json() and await sqlite_gateway.runtime.store.count("quarantine") == 0
    )


async def test_a_revocation_without_for_user_id_is_acknowledged_and_alerts(
    sqlite_gateway: Gateway, vendor_file: Callable[[str], Path]
) -> None:
    body = for_brand(json.loads(vendor_file("x/samples/aaa__user_event.json").read_text()), ACCOUNT_ID)
    assert "for_user_id" not in body
    response = await sqlite_gateway.post_x(body)
    assert response.status_code == 200 and response.json()["dropped"] == {"revoke": 1}
    metrics = (await sqlite_gateway.client.get("/metrics")).text
    assert "sav_bridge_x_revocations_total 1.0" in metrics


async def test_crc_tokens_are_bounded_and_unsigned_crc_requests_write_at_most_once_a_minute(
    sqlite_gateway: Gateway,
) -> None:
    too_long = await sqlite_gateway.client.get("/webhooks/x", params={"crc_token": "a" * 60_000})
    assert too_long.status_code == 400 and "longer than" in too_long.json()["error"]
    for token in ("first", "second", "third"):
        response = await sqlite_gateway.client.get("/webhooks/x", params={"crc_token": token})
        assert response.json() == {"response_token": sign(CONSUMER_SECRET, token.encode())}
    state = sqlite_gateway.runtime.store.state
    first = await state.get("x.crc.last")
    assert first is not None
    sqlite_gateway.clock.advance(61)
    await sqlite_gateway.client.get("/webhooks/x", params={"crc_token": "later"})
    later = await state.get("x.crc.last")
    assert later is not None and later["at"] == first["at"] + 61
