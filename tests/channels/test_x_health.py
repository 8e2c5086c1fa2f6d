"""X health alerts: each one raised and cleared with a fake clock, logged once when it starts, visible in
`/readyz`'s details (which stays 200) and in the metrics."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from sav_bridge.channels.x import access, health
from sav_bridge.channels.x.billing import EXHAUSTED_FACT
from sav_bridge.channels.x.health import USUAL_EVENTS, evaluate
from sav_bridge.channels.x.provision import run_provision
from sav_bridge.config import load_settings
from sav_bridge.flows import inbound
from tests.harness import ACCOUNT_ID, CLAIRE, Gateway, gateway_env

HOUR = 3600.0


async def mention(gw: Gateway, text: str = "@MaBanque my card is blocked") -> None:
    response = await gw.post_x(gw.x.customer_post(CLAIRE, text))
    assert response.status_code == 200 and response.json()["accepted"] == 1


async def alert_state(gw: Gateway, name: str) -> tuple[list[str], str]:
    """The names /readyz lists, and the alert's gauge line in /metrics."""
    ready = await gw.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    names = [a["name"] for a in ready.json()["alerts"]]
    metrics = (await gw.client.get("/metrics")).text
    line = next(ln for ln in metrics.splitlines() if ln.startswith(f'sav_bridge_x_alert{{name="{name}"}}'))
    return names, line


def started(caplog: pytest.LogCaptureFixture, name: str) -> int:
    return sum(1 for r in caplog.records if r.getMessage().startswith(f"X alert {name}:"))


async def test_a_quiet_channel_that_usually_talks_alerts_once_then_clears(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    gw = gateway
    for day in range(USUAL_EVENTS):
        await mention(gw, f"@MaBanque question {day}")
        gw.clock.advance(20 * HOUR)
    gw.clock.advance(gw.settings.x.quiet_alert_hours * HOUR)
    with caplog.at_level(logging.INFO, logger="sav_bridge.channels.x.health"):
        await gw.runtime.health.check()
        await gw.runtime.health.check()
        assert started(caplog, "quiet") == 1
        names, gauge = await alert_state(gw, "quiet")
        assert names == ["quiet"] and gauge.endswith(" 1.0")
        await mention(gw, "@MaBanque hello again")
        await gw.runtime.health.check()
        names, gauge = await alert_state(gw, "quiet")
        assert names == [] and gauge.endswith(" 0.0")
        assert "X alert quiet cleared" in caplog.messages


async def test_an_account_that_rarely_talks_is_not_quiet(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    await mention(gw)
    gw.clock.advance(10 * 24 * HOUR)
    assert await gw.runtime.health.check() == []


async def test_a_revocation_alerts_until_a_message_arrives_again(
    sqlite_gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    gw = sqlite_gateway
    await mention(gw)
    gw.clock.advance(60)
    revoke = {"user_event": {"revoke": {"date_time": "2026-05-24T09:48:12+00:00", "target": {"app_id": "1"},
                                         "source": {"user_id": ACCOUNT_ID}}}}  # fmt: skip
    assert (await gw.post_x(revoke)).json()["dropped"] == {"revoke": 1}
    with caplog.at_level(logging.ERROR, logger="sav_bridge.channels.x.health"):
        await gw.runtime.health.check()
        await gw.runtime.health.check()
    assert started(caplog, "revoked") == 1
    assert (await alert_state(gw, "revoked"))[0] == ["revoked"]
    gw.clock.advance(60)
    await mention(gw, "@MaBanque back")
    await gw.runtime.health.check()
    assert (await alert_state(gw, "revoked"))[0] == []


async def test_x_marking_the_webhook_invalid_alerts_until_it_is_revalidated(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    out = io.StringIO()
    await run_provision(gw.settings, "https://sav.example.com", False, out, gw.sandbox.transport())
    hook = next(iter(gw.x.webhooks))
    await gw.runtime.health.tick()  # the webhook check asks X: valid
    assert gw.runtime.health.active == {}
    gw.x.invalidate(hook)
    gw.clock.advance(health.WEBHOOK_CHECK_SECONDS)
    await gw.runtime.health.tick()
    names, gauge = await alert_state(gw, "webhook_invalid")
    assert names == ["webhook_invalid"] and gauge.endswith(" 1.0")
    assert hook in gw.runtime.health.active["webhook_invalid"].message
    await run_provision(gw.settings, "https://sav.example.com", False, out, gw.sandbox.transport())
    gw.clock.advance(60)
    await gw.runtime.health.tick()  # not due yet: X is not asked every minute
    assert "webhook_invalid" in gw.runtime.health.active
    gw.clock.advance(health.WEBHOOK_CHECK_SECONDS)
    await gw.runtime.health.tick()
    assert (await alert_state(gw, "webhook_invalid"))[0] == []


async def test_refused_credentials_and_an_exhausted_budget_alert_while_their_facts_last(
    sqlite_gateway: Gateway,
) -> None:
    gw = sqlite_gateway
    state = gw.runtime.store.state
    await state.put(access.PAUSE_NAME, {"since": gw.clock(), "reason": "X answered 401"})
    await state.put(EXHAUSTED_FACT, {"month": "2026-05", "at": gw.clock(), "reached": "spend 5.00 of 5.00"})
    await gw.runtime.health.check()
    names, _ = await alert_state(gw, "token_refused")
    assert names == ["token_refused", "budget_exhausted"]
    assert "X answered 401" in gw.runtime.health.active["token_refused"].message
    await state.delete(access.PAUSE_NAME)
    await state.delete(EXHAUSTED_FACT)
    await gw.runtime.health.check()
    assert (await alert_state(gw, "token_refused"))[0] == []


async def test_an_oauth2_token_left_to_expire_alerts(sqlite_gateway: Gateway, tmp_path: Path) -> None:
    store, now = sqlite_gateway.runtime.store, sqlite_gateway.clock()
    settings = load_settings(
        None,
        gateway_env(
            f"sqlite:///{tmp_path / 'unused.db'}",
            SAV_BRIDGE_X__AUTH="oauth2",
            SAV_BRIDGE_X__CLIENT_ID="client",
            SAV_BRIDGE_SECRETS_KEY="A" * 43 + "=",
        ),
    )
    await store.secrets.put(health.TOKEN_SECRET, "sealed", now + 2 * HOUR)
    assert await evaluate(store, settings.x, now) == []
    [alert] = await evaluate(store, settings.x, now + 2 * HOUR - 60)
    assert alert.name == "token_expiring" and "was not refreshed" in alert.message
    assert await evaluate(store, sqlite_gateway.settings.x, now + 3 * HOUR) == []  # OAuth 1.0a: never


def test_the_last_event_fact_is_the_inbound_flows() -> None:
    assert health.LAST_EVENT_FACT == inbound.LAST_EVENT_FACT  # repeated there: the flows import health


async def test_a_normal_refresh_never_alerts_with_a_30_second_margin(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    from tests.channels.x_auth_helpers import oauth2_env
    from tests.harness import start_gateway

    gw = await start_gateway(sqlite_url, vendor_dir, **oauth2_env(SAV_BRIDGE_X__REFRESH_MARGIN_SECONDS="30"))
    assert gw.runtime.health is not None
    seen: set[str] = set()
    try:
        for _ in range(5 * 60):  # five hours, minute by minute, as the health task runs
            seen |= {alert.name for alert in await gw.runtime.health.tick()}
            # and as `x status` sees it, any second between two rounds
            for second in (1, 30, 59):
                seen |= {a.name for a in await evaluate(gw.runtime.store, gw.settings.x, gw.clock() + second)}
            gw.clock.advance(60)
        assert len(gw.x.refresh_calls) == 3 and "token_expiring" not in seen and "token_refused" not in seen
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
