"""X refuses the gateway's access: replies wait (never dead), the agent reads one note per ticket, an
alert fires, and replies go out once access is restored."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sav_bridge.channels.x.access import PROBE_SECONDS, RECHECK_SECONDS
from sav_bridge.flows.paused import WAITING_NOTE
from sav_bridge.sandbox import Fault
from tests.channels.x_auth_helpers import reply_round
from tests.harness import ACCESS_TOKEN, Gateway


def waiting_notes(gw: Gateway, ticket_id: int) -> list[str]:
    return [n for n in gw.zendesk.notes(ticket_id) if n == WAITING_NOTE]


async def metric(gw: Gateway, name: str) -> float:
    text = (await gw.client.get("/metrics")).text
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


async def test_revoked_oauth1_keys_pause_replies_until_x_accepts_them_again(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sav_bridge")
    gw = gateway
    await reply_round(gw, 0)
    await gw.drain()
    assert len(gw.x.brand_posts) == 1
    gw.x.revoke_access()
    first = await reply_round(gw, 1)
    second = await reply_round(gw, 2)
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(first, agent, "Et une précision.")
    await gw.ring(first)
    # more rechecks than workers.max_attempts (15): waiting uses up no attempt, nothing is sent to X
    for _ in range(20):
        await gw.drain()
        gw.clock.advance(RECHECK_SECONDS + 1)
    await gw.drain()
    # 20 minutes: the refusal, then one probe after 15 minutes (also refused); nothing else reached X
    assert len(gw.x.brand_posts) == 1 and len(gw.x.refused) == 2
    states = await gw.runtime.store.jobs_by_state()
    assert states.get("dead", 0) == 0 and states.get("pending", 0) == 3
    assert [len(waiting_notes(gw, t)) for t in (first, second)] == [1, 1]
    assert await metric(gw, "sav_bridge_x_paused") == 1.0
    assert await metric(gw, "sav_bridge_x_auth_failures_total") == 2.0
    alerts = [
        r for r in caplog.records if r.levelno == logging.ERROR and "no working access to X" in r.getMessage()
    ]
    assert len(alerts) == 1 and "x.access_token_secret" in alerts[0].getMessage()

    assert gw.x.oauth1 is not None
    gw.x.oauth1.token = ACCESS_TOKEN  # the admin fixed the keys; the next probe finds out
    gw.clock.advance(PROBE_SECONDS)
    await gw.settle(step=RECHECK_SECONDS + 1)
    assert len(gw.x.brand_posts) == 4
    assert await metric(gw, "sav_bridge_x_paused") == 0.0
    assert [len(waiting_notes(gw, t)) for t in (first, second)] == [1, 1]
    assert any("X access restored" in r.getMessage() for r in caplog.records)


async def test_a_refused_refresh_pauses_oauth2_replies(sqlite_url: str, vendor_dir: Path | None) -> None:
    from tests.channels.x_auth_helpers import start_oauth2_gateway

    gw = await start_oauth2_gateway(sqlite_url, vendor_dir)
    try:
        await reply_round(gw, 0)
        await gw.drain()
        gw.x.revoke_access()
        ticket = await reply_round(gw, 1)
        gw.clock.advance(2 * 3600)
        await gw.drain()
        assert len(gw.x.brand_posts) == 1 and len(waiting_notes(gw, ticket)) == 1
        assert (await gw.runtime.store.jobs_by_state()).get("dead", 0) == 0
        assert await gw.runtime.access.gate.pause() is not None  # type: ignore[union-attr]
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def test_a_paused_gateway_does_not_spend_a_refused_refresh_token_every_minute(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    from tests.channels.x_auth_helpers import start_oauth2_gateway

    gw = await start_oauth2_gateway(sqlite_url, vendor_dir)
    health = gw.runtime.health
    assert health is not None
    try:
        await health.tick()  # a quiet gateway: the health task keeps the token fresh
        assert len(gw.x.refresh_calls) == 1
        gw.x.revoke_access()
        gw.clock.advance(2 * 3600)
        await health.tick()  # the refresh X refuses pauses X, as a refused request would
        assert len(gw.x.refresh_calls) == 2
        assert await gw.runtime.access.gate.pause() is not None  # type: ignore[union-attr]
        for _ in range(10):
            gw.clock.advance(RECHECK_SECONDS)
            await health.tick()
        assert len(gw.x.refresh_calls) == 2  # 10 minutes paused: X's token endpoint was not called
        assert "token_refused" in health.active
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def test_a_probe_x_answers_with_something_else_than_401_ends_the_pause(gateway: Gateway) -> None:
    gw = gateway
    gw.x.revoke_access()
    ticket = await reply_round(gw, 1)
    await gw.drain()
    assert await gw.runtime.access.gate.pause() is not None  # type: ignore[union-attr]
    assert gw.x.oauth1 is not None
    gw.x.oauth1.token = ACCESS_TOKEN  # the admin fixed the keys; X happens to rate-limit the probe
    limited = gw.x.faults.add(Fault("POST", "/2/tweets", 429, {"Retry-After": "30"}))
    gw.clock.advance(PROBE_SECONDS)
    await gw.drain()
    assert limited.times == 0 and await gw.runtime.access.gate.pause() is None  # type: ignore[union-attr]
    await gw.settle(step=RECHECK_SECONDS + 1)
    assert len(gw.x.brand_posts) == 1 and gw.zendesk.notes(ticket)[-1].startswith("✅ Posted on X")
