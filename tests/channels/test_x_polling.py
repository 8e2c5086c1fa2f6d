"""Polling X (mentions, DM events), backfill after a webhook gap, and the monthly budget, through the
gateway on the sandboxes with a fake clock: tickets, deduplication with webhooks, cursors, the lease,
and the billed usage compared with what the X fake says X would bill."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from sav_bridge.channels.x.billing import EXHAUSTED_FACT
from sav_bridge.channels.x.facts import MENTIONS_CURSOR
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import MediaFile
from tests.harness import CLAIRE, MARC, Gateway, start_gateway

pytestmark = pytest.mark.asyncio

POLLING = {"SAV_BRIDGE_X__MODE": "polling", "SAV_BRIDGE_X__POLL_INTERVAL_SECONDS": "60"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(200))


class Around(httpx.AsyncBaseTransport):
    """The sandbox's transport, with `after` run once X has answered a mentions page and before the
    poller gets the answer: a slow page (the clock moves, another replica polls meanwhile), or a page
    changed on its way (`after` returns the answer to give instead)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        after: Callable[[httpx.Response], Awaitable[httpx.Response | None]],
    ) -> None:
        self.inner = inner
        self.after = after

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.host == "api.x.com" and "/mentions" in request.url.path:
            await response.aread()
            response = await self.after(response) or response
        return response


@pytest.fixture
async def polling(database_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gw = await start_gateway(database_url, vendor_dir, **POLLING)
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()
    assert gw.sandbox.violations == [], "requests broke X's OpenAPI contract"


async def tick(gw: Gateway, runtime: Runtime | None = None) -> int:
    poller = (runtime or gw.runtime).poller
    assert poller is not None
    found = await poller.tick()
    await gw.settle()
    return found


def mention_reads(gw: Gateway) -> list[dict[str, str]]:
    return [dict(r.url.params) for r in gw.x.calls("GET", r"/2/users/[0-9]+/mentions")]


def comments(gw: Gateway) -> list[str]:
    return [c["body"] for t in gw.zendesk.tickets for c in gw.zendesk.public_comments(t)]


async def test_polling_makes_tickets_for_mentions_and_dms(polling: Gateway) -> None:
    polling.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée")
    polling.x.customer_dm(MARC, "Bonjour, mon virement n'est pas arrivé")
    assert await tick(polling) == 2
    tickets = polling.zendesk.tickets.values()
    assert sorted(t["tags"][-1] for t in tickets) == ["x_dm", "x_mention"]
    requesters = {polling.zendesk.users[t["requester_id"]]["name"] for t in tickets}
    assert requesters == {"Claire Dupont", "Marc Lefèvre"}
    params = mention_reads(polling)[0]
    assert {"author_id", "referenced_posts"} <= set(params["expansions"].split(","))
    assert "conversation_id" in params["post.fields"]
    assert await tick(polling) == 0
    assert len(polling.zendesk.tickets) == 2


async def test_a_polled_mention_brings_its_photo_to_the_ticket(polling: Gateway) -> None:
    photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
    polling.x.customer_post(CLAIRE, "@MaBanque regardez l'écran", media=[MediaFile(data=photo)])
    assert await tick(polling) == 1
    [(name, content_type, data)] = polling.zendesk.attachments(polling.only_ticket())
    assert (content_type, data) == ("image/jpeg", photo) and name.endswith(".jpg")
    params = mention_reads(polling)[0]
    assert "attachments.media_keys" in params["expansions"] and "variants" in params["media.fields"]


async def test_a_polled_dm_brings_its_photo_and_never_its_address(polling: Gateway) -> None:
    polling.x.customer_dm(MARC, "voici le reçu", media=MediaFile(data=PNG, content_type="image/png"))
    assert await tick(polling) == 1
    [(_, content_type, data)] = polling.zendesk.attachments(polling.only_ticket())
    assert (content_type, data) == ("image/png", PNG)
    [fetch] = polling.sandbox.x_media.requests
    assert fetch.url.host == "ton.twitter.com" and fetch.headers.get("authorization")
    sent = b"".join(bytes(r.url.raw_path) + r.content for r in polling.zendesk.requests).decode("latin-1")
    held = json.dumps([polling.zendesk.tickets, polling.zendesk.comments], default=str)
    assert "ton.twitter.com" not in sent + held and "t.co/" not in sent + held
    assert comments(polling)[0].startswith("voici le reçu")
    [read] = [dict(r.url.params) for r in polling.x.calls("GET", r"/2/dm_events")]
    assert "attachments.media_keys" in read["expansions"] and "attachments" in read["dm_event.fields"]


async def test_our_own_dms_and_replies_read_by_polling_make_no_ticket(polling: Gateway) -> None:
    polling.x.customer_dm(MARC, "Bonjour")
    await tick(polling)
    ticket_id = polling.only_ticket()
    agent = polling.zendesk.add_agent("Jean-Pierre Martin", "jp@mabanque.fr")
    polling.zendesk.agent_comment(ticket_id, agent, "Nous regardons votre virement.")
    await polling.ring(ticket_id)
    await polling.settle()
    assert len(polling.x.dms) == 1
    polling.clock.advance(60)
    await tick(polling)
    assert len(polling.zendesk.tickets) == 1
    assert len(polling.zendesk.public_comments(ticket_id)) == 2  # the DM and the agent's answer


@pytest.mark.parametrize("envelope", ["aaa", "xaa"])
@pytest.mark.parametrize("first", ["webhook", "poll"])
async def test_a_message_seen_by_webhook_and_by_polling_makes_one_ticket(
    polling: Gateway, first: str, envelope: str
) -> None:
    post = polling.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée", envelope=envelope)
    dm = polling.x.customer_dm(MARC, "Bonjour, mon virement ?", envelope=envelope)
    if first == "webhook":
        assert (await polling.post_x(post)).json()["accepted"] == 1
        assert (await polling.post_x(dm)).json()["accepted"] == 1
        await polling.settle()
        assert await tick(polling) == 0
    else:
        assert await tick(polling) == 2
        assert (await polling.post_x(post)).json() == {"accepted": 0, "duplicates": 1, "dropped": {}}
        assert (await polling.post_x(dm)).json() == {"accepted": 0, "duplicates": 1, "dropped": {}}
        await polling.settle()
    assert len(polling.zendesk.tickets) == 2
    assert len(comments(polling)) == 2
    assert await polling.runtime.store.count("events") == 2


async def test_the_cursor_survives_a_restart(polling: Gateway) -> None:
    first = polling.x.customer_post(CLAIRE, "@MaBanque premier message")
    polling.x.customer_dm(MARC, "Bonjour")
    assert await tick(polling) == 2
    await polling.runtime.close()
    polling.runtime = await Runtime.start(
        polling.settings, transport=polling.sandbox.transport(), clock=polling.clock
    )
    before = dict(polling.x.billing.returned)
    polling.clock.advance(60)
    assert await tick(polling) == 0
    assert polling.x.billing.returned["read_mentions"] == before["read_mentions"]  # nothing re-read
    assert mention_reads(polling)[-1]["since_id"] == first["tweet_create_events"][0]["id_str"]
    polling.x.customer_post(CLAIRE, "@MaBanque second message")
    polling.clock.advance(60)
    assert await tick(polling) == 1
    assert len(polling.zendesk.tickets) == 3
    assert sum(c.startswith("@MaBanque second message") for c in comments(polling)) == 1


async def test_a_long_walk_resumes_where_it_stopped(polling: Gateway) -> None:
    for n in range(12):
        polling.x.customer_post(CLAIRE, f"@MaBanque message {n}")
    poller = polling.runtime.poller
    assert poller is not None
    mentions, dms = poller.timelines
    poller.timelines = (
        type(mentions)(
            **{**mentions.__dict__, "max_pages": 1, "params": {**mentions.params, "max_results": 5}}
        ),
        dms,
    )
    found = [await tick(polling) for _ in range(4)]
    assert found == [5, 5, 2, 0]
    assert len(comments(polling)) == 12
    assert sum(polling.x.billing.returned.values()) == 12


async def test_backfill_reads_exactly_what_the_webhook_missed(gateway: Gateway) -> None:
    first = gateway.x.customer_post(CLAIRE, "@MaBanque bonjour")
    await gateway.post_x(first)
    await gateway.settle()
    poller = gateway.runtime.poller
    assert poller is not None
    assert await poller.tick() == 0  # start-up: nothing missed
    missed = [gateway.x.customer_post(CLAIRE, f"@MaBanque vous êtes là ? {n}") for n in range(2)]
    gateway.x.customer_dm(MARC, "Bonjour, en DM")
    gateway.clock.advance(10 * 60)
    assert await poller.tick() == 0  # not quiet for long yet: no read
    reads = len(mention_reads(gateway))
    gateway.clock.advance(25 * 60)
    assert await poller.tick() == 3
    await gateway.settle()
    since = mention_reads(gateway)[-1]["since_id"]
    assert since == first["tweet_create_events"][0]["id_str"]
    assert len(mention_reads(gateway)) == reads + 1
    assert gateway.x.billing.returned["read_mentions"] == 2
    texts = comments(gateway)
    assert sorted(t.split("\n")[0] for t in texts if "vous êtes là" in t) == [
        "@MaBanque vous êtes là ? 0",
        "@MaBanque vous êtes là ? 1",
    ]
    assert any(t.startswith("Bonjour, en DM") for t in texts)
    for body in missed:  # the webhook comes back and delivers them late: nothing new
        assert (await gateway.post_x(body)).json()["duplicates"] == 1
    gateway.clock.advance(5 * 60)
    assert await poller.tick() == 0  # read once, not again before another gap


async def test_the_budget_stops_polling_with_an_alert_while_replies_still_post(
    database_url: str, vendor_dir: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await start_gateway(
        database_url,
        vendor_dir,
        **POLLING,
        SAV_BRIDGE_X__BUDGET__MONTHLY_SPEND="0.05",
        SAV_BRIDGE_X__PRICES__READ_DM_EVENTS="0.02",
    )
    try:
        for n in range(3):
            gw.x.customer_dm(MARC, f"Bonjour {n}")  # 3 events at 0.02: 0.06, over 0.05
        with caplog.at_level(logging.ERROR, logger="sav_bridge.channels.x.billing"):
            assert await tick(gw) == 3
            reads = len(gw.x.requests)
            gw.x.customer_dm(MARC, "Encore moi")
            gw.clock.advance(60)
            assert await tick(gw) == 0
            gw.clock.advance(60)
            assert await tick(gw) == 0
        assert len(gw.x.requests) == reads  # polling stopped: not one read more
        alerts = [r for r in caplog.records if "budget reached" in r.getMessage()]
        assert len(alerts) == 1 and "0.06 of 0.05" in alerts[0].getMessage()
        fact = await gw.runtime.store.state.get(EXHAUSTED_FACT)
        assert fact["month"] == gw.runtime.store.usage.today()[:7]
        metrics = (await gw.client.get("/metrics")).text
        assert "sav_bridge_x_budget_exhausted 1.0" in metrics
        assert 'sav_bridge_x_budget_remaining{unit="micros"} 0.0' in metrics
        ticket_id = next(iter(gw.zendesk.tickets))
        agent = gw.zendesk.add_agent("Jean-Pierre Martin", "jp@mabanque.fr")
        gw.zendesk.agent_comment(ticket_id, agent, "Nous regardons votre virement.")
        await gw.ring(ticket_id)
        await gw.settle()
        assert [d["text"].split(" ^")[0] for d in gw.x.dms] == ["Nous regardons votre virement."]
        gw.clock.advance(32 * 86_400)  # a new month: polling resumes, the alert clears
        gw.x.customer_dm(MARC, "Nouveau mois")
        assert await tick(gw) == 1  # "Encore moi" is older than x.backfill_hours by now: not taken
        assert await gw.runtime.store.state.get(EXHAUSTED_FACT) is None
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def test_usage_and_metrics_match_what_x_bills(polling: Gateway) -> None:
    polling.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée")
    polling.x.customer_dm(MARC, "Bonjour")
    await tick(polling)
    for _ in range(3):  # DM events read again the same day are billed once, by X and by the meter
        polling.clock.advance(60)
        await tick(polling)
    post_ticket = next(t for t, v in polling.zendesk.tickets.items() if "x_mention" in v["tags"])
    agent = polling.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    polling.zendesk.agent_comment(post_ticket, agent, "Voyez https://mabanque.fr/aide")
    await polling.ring(post_ticket)
    await polling.settle()
    usage = await polling.runtime.store.usage.month()
    fake = polling.x.billing
    assert set(usage) == set(fake.requests) - {"read_user"}
    for kind, row in usage.items():
        assert (row["requests"], row["resources"]) == (fake.requests[kind], fake.billed[kind]), kind
    assert usage["write_post_url"]["cost_micros"] == 200_000
    assert usage["read_dm_events"] == {"requests": 4, "resources": 1, "cost_micros": 10_000}
    metrics = (await polling.client.get("/metrics")).text
    spent = sum(row["cost_micros"] for row in usage.values())
    assert f"sav_bridge_x_month_spend_micros {float(spent)}" in metrics
    assert 'sav_bridge_x_requests_total{kind="read_dm_events"} 4.0' in metrics
    polling.clock.advance(86_400)  # another UTC day: the same events are billed again
    await tick(polling)
    assert (await polling.runtime.store.usage.month())["read_dm_events"]["resources"] == fake.billed[
        "read_dm_events"
    ]


async def test_two_replicas_poll_one_at_a_time(polling: Gateway) -> None:
    other = await Runtime.start(polling.settings, transport=polling.sandbox.transport(), clock=polling.clock)
    try:
        polling.x.customer_post(CLAIRE, "@MaBanque bonjour")
        for _ in range(3):
            await tick(polling)
            await tick(polling, other)
            polling.clock.advance(60)
        assert len(mention_reads(polling)) == 3  # the holder's rounds only
        assert len(polling.zendesk.tickets) == 1
        polling.clock.advance(3 * 60)  # the holder stops renewing: the other takes over
        await tick(polling, other)
        assert len(mention_reads(polling)) == 4
        await tick(polling)
        assert len(mention_reads(polling)) == 4
    finally:
        await other.close()


async def test_a_round_outlasting_its_lease_stops_and_never_moves_the_cursor_back(polling: Gateway) -> None:
    for n in range(12):
        polling.x.customer_post(CLAIRE, f"@MaBanque message {n}")
    taken_over: dict[str, str] = {}

    async def slow_page(response: httpx.Response) -> None:
        if taken_over:
            return
        # The first page's answer takes longer than the lease: a newer mention arrives, and the other
        # replica takes the lease and reads everything, before this replica gets the page.
        late = polling.x.customer_post(CLAIRE, "@MaBanque arrivé pendant la lecture")
        taken_over["id"] = late["tweet_create_events"][0]["id_str"]
        polling.clock.advance(4 * 60)
        assert await tick(polling) == 13

    slow = await Runtime.start(
        polling.settings, transport=Around(polling.sandbox.transport(), slow_page), clock=polling.clock
    )
    try:
        assert slow.poller is not None
        mentions, dms = slow.poller.timelines
        smaller = {**mentions.params, "max_results": 5}
        slow.poller.timelines = (type(mentions)(**{**mentions.__dict__, "params": smaller}), dms)
        await tick(polling, slow)
        assert len(mention_reads(polling)) == 2  # its first page, and the new holder's one: no more
        cursor = await polling.runtime.store.state.get(MENTIONS_CURSOR)
        assert cursor == {"last_id": taken_over["id"]}
        polling.clock.advance(60)
        assert await tick(polling) == 0
        assert mention_reads(polling)[-1]["since_id"] == taken_over["id"]
        assert polling.x.billing.returned["read_mentions"] == 5 + 13
        assert len(polling.zendesk.tickets) == 13 and len(comments(polling)) == 13
    finally:
        await slow.close()


async def test_an_item_whose_id_is_no_x_id_is_set_aside_and_the_round_goes_on(polling: Gateway) -> None:
    odd = {"on": False}

    async def with_odd_item(response: httpx.Response) -> httpx.Response | None:
        body = response.json()
        if not odd["on"] or not body.get("data"):
            return None
        body["data"].insert(0, {**body["data"][0], "id": "²"})  # str.isdigit() says yes; X ids are ASCII
        return httpx.Response(200, json=body, headers=response.headers)

    replica = await Runtime.start(
        polling.settings, transport=Around(polling.sandbox.transport(), with_odd_item), clock=polling.clock
    )
    try:
        polling.x.customer_post(CLAIRE, "@MaBanque premier")
        assert await tick(polling, replica) == 1
        polling.x.customer_post(CLAIRE, "@MaBanque second")
        odd["on"] = True
        polling.clock.advance(60)
        assert await tick(polling, replica) == 1
        assert [c.split("\n")[0] for c in comments(polling)] == ["@MaBanque premier", "@MaBanque second"]
        assert await polling.runtime.store.count("quarantine") == 1
    finally:
        await replica.close()
