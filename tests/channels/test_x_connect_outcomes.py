"""`sav-bridge x connect` waiting on the gateway: a failed callback stops it at once with X's reason, and
only the brand account's approval is kept (another account signed in on that browser is refused)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sav_bridge.channels.x.connect import ConnectFailed, run_connect
from sav_bridge.channels.x.status import run_status
from sav_bridge.channels.x.tokens import SECRET_NAME
from tests.channels.test_x_connect import consent_url
from tests.channels.x_auth_helpers import start_oauth2_gateway
from tests.harness import ACCOUNT_ID, Gateway

INTRUDER = ("2100000000000000099", "amelie_perso")


@pytest.fixture
async def gw(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gateway = await start_oauth2_gateway(sqlite_url, vendor_dir, seed=False)
    try:
        yield gateway
    finally:
        await gateway.client.aclose()
        await gateway.runtime.close()


async def connect_waiting(gw: Gateway, out: io.StringIO) -> asyncio.Task[int]:
    """`x connect` with its default `--wait` (600 s), once it printed X's consent address."""

    async def fast(_: float) -> None:
        await asyncio.sleep(0.01)

    command = asyncio.create_task(
        run_connect(gw.settings, None, False, 600, io.StringIO(), out, gw.sandbox.transport(), gw.clock, fast)
    )
    while consent_url(out) is None and not command.done():
        await asyncio.sleep(0.01)
    return command


async def test_a_refused_approval_stops_x_connect_at_once_with_xs_reason(gw: Gateway) -> None:
    out = io.StringIO()
    command = await connect_waiting(gw, out)
    state = dict(p.split("=", 1) for p in urlsplit(gw.x.approve(str(consent_url(out)))).query.split("&"))[
        "state"
    ]
    page = await gw.client.get(f"/oauth/x/callback?state={state}&error=access_denied")
    assert page.status_code == 400 and "access_denied" in page.text
    with pytest.raises(ConnectFailed) as failed:
        await asyncio.wait_for(command, 5)  # not the 600 s of --wait
    assert (
        str(failed.value) == "X did not authorise the app (access_denied): run `sav-bridge x connect` again"
    )


async def test_a_code_x_refuses_stops_x_connect_at_once(gw: Gateway) -> None:
    out = io.StringIO()
    command = await connect_waiting(gw, out)
    redirect = urlsplit(gw.x.approve(str(consent_url(out))))
    gw.clock.advance(60)  # the code was valid 30 s
    page = await gw.client.get(f"/oauth/x/callback?{redirect.query}")
    assert page.status_code == 400
    with pytest.raises(ConnectFailed, match="X refused the code"):
        await asyncio.wait_for(command, 5)


async def test_another_account_approving_is_refused_and_nothing_is_stored(gw: Gateway) -> None:
    out = io.StringIO()
    command = await connect_waiting(gw, out)
    redirect = urlsplit(gw.x.approve(str(consent_url(out)), as_user=INTRUDER))
    page = await gw.client.get(f"/oauth/x/callback?{redirect.query}")
    line = (
        f"the app was approved by @amelie_perso (id {INTRUDER[0]}), not by the brand account @MaBanque "
        f"(x.account_id {ACCOUNT_ID}); nothing was stored: sign in to X as @MaBanque and run "
        "`sav-bridge x connect` again"
    )
    assert page.status_code == 400 and page.text == f"X is not connected: {line}"
    with pytest.raises(ConnectFailed) as failed:
        await asyncio.wait_for(command, 5)
    assert str(failed.value) == line
    assert await gw.runtime.store.secrets.get(SECRET_NAME) is None


async def test_x_status_shows_the_connected_account(gw: Gateway) -> None:
    out = io.StringIO()
    command = await connect_waiting(gw, out)
    redirect = urlsplit(gw.x.approve(str(consent_url(out))))
    assert (await gw.client.get(f"/oauth/x/callback?{redirect.query}")).status_code == 200
    assert await asyncio.wait_for(command, 5) == 0
    status = io.StringIO()
    await run_status(gw.settings, False, status, gw.sandbox.transport())
    token = next(line for line in status.getvalue().splitlines() if line.startswith("token:"))
    assert token.startswith(f"token: oauth2, account @MaBanque (id {ACCOUNT_ID}), expires ")
