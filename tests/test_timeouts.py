"""Each vendor's calls carry that vendor's own timeout: `zendesk.timeout_seconds` is not `x.timeout_seconds`."""

from __future__ import annotations

from pathlib import Path

import httpx

from sav_bridge.config import load_settings
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Sandbox
from tests.harness import gateway_env


async def test_zendesk_and_x_calls_use_their_own_timeouts(sqlite_url: str, vendor_dir: Path | None) -> None:
    settings = load_settings(
        None,
        gateway_env(sqlite_url, SAV_BRIDGE_ZENDESK__TIMEOUT_SECONDS="3", SAV_BRIDGE_X__TIMEOUT_SECONDS="7"),
    )
    sandbox = Sandbox(settings, vendor_dir)
    seen: dict[str, float] = {}

    def record(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.extensions["timeout"]["read"]
        return sandbox.transport().handle_request(request)

    runtime = await Runtime.start(settings, transport=httpx.MockTransport(record))
    try:
        await runtime.helpdesk.check_credentials()
        await runtime.x.verify_credentials()
    finally:
        await runtime.close()
    assert seen == {"mabanque.zendesk.com": 3.0, "api.x.com": 7.0}
