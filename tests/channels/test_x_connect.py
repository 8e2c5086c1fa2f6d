"""`sav-bridge x connect` end to end against the X fake: pasted redirect and gateway callback; the tokens
are stored encrypted, never logged, and a paused X destination resumes."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sav_bridge.channels.x.access import RECHECK_SECONDS
from sav_bridge.channels.x.connect import run_connect
from sav_bridge.channels.x.tokens import SECRET_NAME
from sav_bridge.flows.paused import WAITING_NOTE
from sav_bridge.sandbox import FakeX, Fault
from tests.channels.x_auth_helpers import reply_round, start_oauth2_gateway
from tests.harness import Gateway


def consent_url(out: io.StringIO) -> str | None:
    return next(
        (w for w in out.getvalue().split() if w.startswith("https://x.com/i/oauth2/authorize?")), None
    )


class BrandApproves(io.StringIO):
    """stdin for `--paste`: the brand account approves the printed address and pastes where X sent it."""

    def __init__(self, fake: FakeX, out: io.StringIO) -> None:
        super().__init__()
        self.fake, self.out = fake, out

    def readline(self, size: int | None = -1) -> str:
        url = consent_url(self.out)
        assert url is not None
        return self.fake.approve(url) + "\n"


async def connected_gateway(gw: Gateway) -> None:
    """Before the connect: no tokens, so a reply waits with its note."""
    ticket = await reply_round(gw, 1)
    await gw.drain()
    assert gw.x.brand_posts == [] and gw.zendesk.notes(ticket)[-1] == WAITING_NOTE


async def assert_posts_and_keeps_tokens_secret(gw: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    await gw.settle(step=RECHECK_SECONDS + 1)
    assert len(gw.x.brand_posts) == 1
    assert gw.x.oauth2 is not None
    tokens = list(gw.x.oauth2.access) + list(gw.x.oauth2.refresh)
    row = await gw.runtime.store.secrets.get(SECRET_NAME)
    assert row is not None and not any(t in row.ciphertext for t in tokens)
    assert not any(t in caplog.text for t in tokens)


async def test_connect_with_a_pasted_redirect(
    sqlite_url: str, vendor_dir: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gw = await start_oauth2_gateway(sqlite_url, vendor_dir, seed=False)
    try:
        await connected_gateway(gw)
        out = io.StringIO()
        stdin = BrandApproves(gw.x, out)
        code = await run_connect(gw.settings, None, True, 5, stdin, out, gw.sandbox.transport(), gw.clock)
        assert code == 0 and "X is connected" in out.getvalue()
        url = consent_url(out)
        assert (
            url
            and "scope=tweet.read%20tweet.write%20users.read%20dm.read%20dm.write%20media.write%20offline.access"
            in url
        )
        assert "redirect_uri=https%3A%2F%2Fcare.mabanque.fr%2Foauth%2Fx%2Fcallback" in url
        await assert_posts_and_keeps_tokens_secret(gw, caplog)
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def test_connect_through_the_gateway_callback(
    database_url: str, vendor_dir: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gw = await start_oauth2_gateway(database_url, vendor_dir, seed=False)
    try:
        await connected_gateway(gw)
        out = io.StringIO()

        async def fast(_: float) -> None:
            await asyncio.sleep(0.01)

        command = asyncio.create_task(
            run_connect(
                gw.settings, None, False, 10, io.StringIO(), out, gw.sandbox.transport(), gw.clock, fast
            )
        )
        while consent_url(out) is None:
            await asyncio.sleep(0.01)
        redirect = urlsplit(gw.x.approve(str(consent_url(out))))
        assert redirect.path == "/oauth/x/callback"
        forged = await gw.client.get("/oauth/x/callback?state=not-ours&code=stolen")
        assert forged.status_code == 400 and "state differs" in forged.text
        answer = await gw.client.get(f"/oauth/x/callback?{redirect.query}")
        assert answer.status_code == 200 and "X is connected" in answer.text
        assert await command == 0
        await assert_posts_and_keeps_tokens_secret(gw, caplog)
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def test_a_callback_without_code_or_with_a_failing_token_endpoint_is_a_clear_400(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    gw = await start_oauth2_gateway(sqlite_url, vendor_dir, seed=False)
    out = io.StringIO()

    async def fast(_: float) -> None:
        await asyncio.sleep(0.01)

    command = asyncio.create_task(
        run_connect(gw.settings, None, False, 10, io.StringIO(), out, gw.sandbox.transport(), gw.clock, fast)
    )
    try:
        while consent_url(out) is None:
            await asyncio.sleep(0.01)
        query = urlsplit(gw.x.approve(str(consent_url(out)))).query
        state = next(p.split("=", 1)[1] for p in query.split("&") if p.startswith("state="))
        no_code = await gw.client.get(f"/oauth/x/callback?state={state}")
        assert no_code.status_code == 400 and "neither a code nor an error" in no_code.text
        assert gw.x.calls("POST", "/2/oauth2/token") == []  # nothing was asked of X
        gw.x.faults.add(Fault("POST", "/2/oauth2/token", status=404, body='{"error": "not found"}'))
        refused = await gw.client.get(f"/oauth/x/callback?{query}")
        assert refused.status_code == 400 and refused.text.startswith("X is not connected")
    finally:
        command.cancel()
        await asyncio.gather(command, return_exceptions=True)
        await gw.client.aclose()
        await gw.runtime.close()


def test_x_connect_with_oauth1_keys_says_there_is_nothing_to_connect(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    from sav_bridge.cli import EXIT_CONFIG, main
    from tests.harness import gateway_env

    for name, value in gateway_env(sqlite_url).items():
        monkeypatch.setenv(name, value)
    assert main(["x", "connect", "--paste"]) == EXIT_CONFIG
    assert capsys.readouterr().err == (
        "sav-bridge: config: x.auth: is oauth1, whose keys need no connect; set x.auth: oauth2 to use OAuth 2.0\n"
    )
