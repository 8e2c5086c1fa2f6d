"""What a new admin meets before X works: OAuth 2.0 not connected or its tokens sealed with another
`secrets_key`, the sandbox, a `public_url` X would refuse, and a budget reached between two health rounds."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from sav_bridge.channels.x.status import run_status
from sav_bridge.check import run_check
from sav_bridge.cli import EXIT_CONFIG
from sav_bridge.config import load_settings
from tests.channels.test_x_health import alert_state
from tests.channels.test_x_polling import POLLING, tick
from tests.channels.x_auth_helpers import oauth2_env, start_oauth2_gateway
from tests.harness import MARC, Gateway, gateway_env, start_gateway

NOT_CONNECTED = "not connected: run `sav-bridge x connect`"
UNREADABLE = "tokens unreadable with this secrets_key: run `sav-bridge x connect`"


async def closed(gw: Gateway) -> None:
    await gw.client.aclose()
    await gw.runtime.close()


@pytest.fixture
async def unconnected(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gw = await start_oauth2_gateway(sqlite_url, vendor_dir, seed=False)
    yield gw
    await closed(gw)


async def status_text(gw: Gateway, **env: str) -> str:
    settings = load_settings(None, gateway_env(gw.settings.database_url, **oauth2_env(**env)))
    out = io.StringIO()
    await run_status(settings, False, out, gw.sandbox.transport())
    return out.getvalue()


async def check_online(gw: Gateway, **env: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = gateway_env(gw.settings.database_url, **oauth2_env(**env))
    code = await run_check(None, environ, True, out, err, gw.sandbox.transport())
    return code, err.getvalue()


async def test_oauth2_never_connected_says_so_everywhere(unconnected: Gateway) -> None:
    gw = unconnected
    await gw.runtime.health.check()
    names, gauge = await alert_state(gw, "not_connected")
    assert names == ["not_connected"] and gauge.endswith(" 1.0")
    assert gw.runtime.health.active["not_connected"].message == f"X {NOT_CONNECTED}"
    text = await status_text(gw, seed=False)
    assert f"token: oauth2, {NOT_CONNECTED}" in text.splitlines()
    assert f"  ALERT not_connected: X {NOT_CONNECTED}" in text.splitlines()
    assert await check_online(gw, seed=False) == (EXIT_CONFIG, f"sav-bridge: x: {NOT_CONNECTED}\n")


async def test_tokens_sealed_with_another_secrets_key_are_said_unreadable(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    gw = await start_oauth2_gateway(sqlite_url, vendor_dir)  # a grant stored, sealed with the old key
    try:
        other = Fernet.generate_key().decode()
        text = await status_text(gw, SAV_BRIDGE_SECRETS_KEY=other)
        assert f"token: oauth2, {UNREADABLE}" in text.splitlines()
        assert f"  ALERT not_connected: X {UNREADABLE}" in text.splitlines()
        assert "alerts: none" not in text
        code, err = await check_online(gw, SAV_BRIDGE_SECRETS_KEY=other)
        assert (code, err) == (EXIT_CONFIG, f"sav-bridge: x: {UNREADABLE}\n")
        assert gw.x.calls("GET", "/2/users/me") == []  # nothing to ask X with
        assert "not_connected" not in await status_text(gw)  # the right key reads them
    finally:
        await closed(gw)


async def test_the_sandbox_raises_no_webhook_alert_it_could_not_fix(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    gw = await start_gateway(sqlite_url, vendor_dir, SAV_BRIDGE_SANDBOX="true")
    try:
        assert gw.settings.sandbox and gw.settings.x.bearer_token is not None
        assert await gw.runtime.health.tick() == []
        assert (await alert_state(gw, "webhook_invalid"))[0] == []
    finally:
        await closed(gw)


@pytest.mark.parametrize("public_url", ["http://care.mabanque.fr", "https://care.mabanque.fr:8443"])
async def test_a_public_url_x_refuses_skips_the_webhook_check_with_one_warning(
    sqlite_url: str, vendor_dir: Path | None, caplog: pytest.LogCaptureFixture, public_url: str
) -> None:
    with caplog.at_level(logging.WARNING):
        gw = await start_gateway(sqlite_url, vendor_dir, SAV_BRIDGE_PUBLIC_URL=public_url)
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and warnings[0].startswith("X webhook check skipped: public_url must be")
        assert await gw.runtime.health.tick() == []
        out, err = io.StringIO(), io.StringIO()
        environ = gateway_env(sqlite_url, SAV_BRIDGE_PUBLIC_URL=public_url)
        assert await run_check(None, environ, False, out, err) == 0
        problem = warnings[0].removeprefix("X webhook check skipped: ")
        assert f"x webhook: WARNING {problem}\n" in out.getvalue()
    finally:
        await closed(gw)


async def test_a_reached_budget_is_one_error_line_and_in_readyz_at_once(
    sqlite_url: str, vendor_dir: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await start_gateway(
        sqlite_url,
        vendor_dir,
        **POLLING,
        SAV_BRIDGE_X__BUDGET__MONTHLY_SPEND="0.05",
        SAV_BRIDGE_X__PRICES__READ_DM_EVENTS="0.02",
    )
    try:
        await gw.runtime.health.check()
        for n in range(3):
            gw.x.customer_dm(MARC, f"Bonjour {n}")  # 0.06: over 0.05 once read
        with caplog.at_level(logging.ERROR):
            await tick(gw)
            gw.clock.advance(60)
            await tick(gw)  # polling stops here
            names, gauge = await alert_state(gw, "budget_exhausted")
            assert names == ["budget_exhausted"] and gauge.endswith(" 1.0")  # before the next health round
            metrics = (await gw.client.get("/metrics")).text
            assert "sav_bridge_x_budget_exhausted 1.0" in metrics
            gw.clock.advance(60)
            await gw.runtime.health.tick()  # the health round a minute later
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "X budget reached" in errors[0]
    finally:
        await closed(gw)
