"""A concurrency limit at the edge: past `server.max_concurrent_requests` a request is answered 503 with
Retry-After at once (never queued), while health, readiness and metrics stay reachable."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import load_settings
from sav_bridge.errors import ConfigError
from tests.harness import CLAIRE, CONSUMER_SECRET, Gateway, gateway_env, start_gateway
from tests.reliability.edge_asgi import call

LIMIT = 2


@pytest.fixture
async def gateway(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gw = await start_gateway(sqlite_url, vendor_dir, SAV_BRIDGE_SERVER__MAX_CONCURRENT_REQUESTS=str(LIMIT))
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()


def signed_mention(gw: Gateway, text: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(gw.x.customer_post(CLAIRE, text)).encode()
    return {"content-type": "application/json", SIGNATURE_HEADER: sign(CONSUMER_SECRET, body)}, body


def once(body: bytes) -> Iterator[bytes]:
    yield body


async def test_past_the_limit_a_request_is_answered_503_at_once_and_health_stays_reachable(
    gateway: Gateway,
) -> None:
    app = gateway.client._transport.app  # type: ignore[attr-defined]
    slow_clients = asyncio.Event()
    held = []
    for n in range(LIMIT):
        headers, body = signed_mention(gateway, f"@MaBanque slow {n}")
        held.append(asyncio.create_task(call(app, "POST", "/webhooks/x", headers, once(body), slow_clients)))
    await asyncio.sleep(0.05)  # both are in flight, waiting for their bodies

    headers, body = signed_mention(gateway, "@MaBanque one too many")
    started = time.perf_counter()
    turned_away = await call(app, "POST", "/webhooks/x", headers, once(body))
    assert turned_away.status == 503 and turned_away.headers["retry-after"] == "1"
    assert time.perf_counter() - started < 0.5  # answered at once, not queued
    assert "busy" in json.loads(turned_away.body)["error"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await gateway.client.get(path)).status_code == 200, path
    metrics = (await gateway.client.get("/metrics")).text
    assert "sav_bridge_requests_shed_total 1.0" in metrics
    assert f"sav_bridge_requests_in_flight {LIMIT:.1f}" in metrics

    slow_clients.set()
    assert [answer.status for answer in await asyncio.gather(*held)] == [200, 200]
    headers, body = signed_mention(gateway, "@MaBanque after the burst")
    assert (await call(app, "POST", "/webhooks/x", headers, once(body))).status == 200
    assert await gateway.runtime.store.count("events") == 3  # the one turned away was never stored


def test_the_limit_is_configured_and_checked() -> None:
    assert load_settings(None, gateway_env("sqlite:///x.db")).max_concurrent_requests == 200
    for wrong, problem in (("0", "between 1 and 100000"), ("many", "must be an integer")):
        with pytest.raises(ConfigError, match=problem) as refused:
            load_settings(
                None, gateway_env("sqlite:///x.db", SAV_BRIDGE_SERVER__MAX_CONCURRENT_REQUESTS=wrong)
            )
        assert refused.value.key == "server.max_concurrent_requests"
