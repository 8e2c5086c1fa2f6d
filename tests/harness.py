"""The shared test harness: a gateway on the sandboxes, driven through its real HTTP app.

`Gateway` signs webhooks exactly as X and Zendesk do, runs the outbox deterministically (`drain`),
and moves a fake clock so retry schedules are tested without sleeping.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sav_bridge_zendesk.sandbox import FakeZendesk

from sav_bridge.app import create_app
from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import Settings, load_settings
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Customer, FakeX, Sandbox

ACCOUNT_ID = "1500000000000000001"
SCREEN_NAME = "MaBanque"
CONSUMER_KEY = "x-consumer-key-for-tests"
CONSUMER_SECRET = "x-consumer-secret-for-tests"
ACCESS_TOKEN = "1500000000000000001-x-user-access-token-for-tests"
ACCESS_TOKEN_SECRET = "x-user-access-token-secret-for-tests"
BEARER_TOKEN = "x-app-bearer-token-for-tests"
ZENDESK_TOKEN = "zendesk-api-token-for-tests"
ZENDESK_SECRET = "zendesk-webhook-secret-for-tests"

CLAIRE = Customer("2100000000000000001", "claire_dupont", "Claire Dupont")
MARC = Customer("2100000000000000002", "marc_l", "Marc Lefèvre")


def gateway_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "SAV_BRIDGE_DATABASE_URL": database_url,
        "SAV_BRIDGE_HELPDESK": "zendesk",
        "SAV_BRIDGE_X__CONSUMER_SECRET": CONSUMER_SECRET,
        "SAV_BRIDGE_X__ACCOUNT_ID": ACCOUNT_ID,
        "SAV_BRIDGE_X__SCREEN_NAME": SCREEN_NAME,
        "SAV_BRIDGE_X__CONSUMER_KEY": CONSUMER_KEY,
        "SAV_BRIDGE_X__ACCESS_TOKEN": ACCESS_TOKEN,
        "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET": ACCESS_TOKEN_SECRET,
        "SAV_BRIDGE_X__BEARER_TOKEN": BEARER_TOKEN,
        "SAV_BRIDGE_ZENDESK__URL": "https://mabanque.zendesk.com",
        "SAV_BRIDGE_ZENDESK__EMAIL": "api@mabanque.fr",
        "SAV_BRIDGE_ZENDESK__API_TOKEN": ZENDESK_TOKEN,
        "SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET": ZENDESK_SECRET,
        "SAV_BRIDGE_WORKERS__COUNT": "0",
    }
    env.update(extra)
    return env


class Clock:
    """A clock tests move by hand; starts at the real time so signed timestamps look current."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pass_fault_time(sandbox: Sandbox, clock: Clock, settings: Settings) -> None:
    """Injected failures take time on the test's clock: a timeout as long as the configured one."""
    for fake in (sandbox.x, sandbox.helpdesk, sandbox.x_media):
        fake.faults.pass_time = clock.advance
        fake.faults.timeout_seconds = settings.x.timeout_seconds


@dataclass
class Gateway:
    settings: Settings
    runtime: Runtime
    sandbox: Sandbox
    client: httpx.AsyncClient
    clock: Clock

    @property
    def x(self) -> FakeX:
        return self.sandbox.x

    @property
    def zendesk(self) -> FakeZendesk:
        fake = self.sandbox.helpdesk
        assert isinstance(fake, FakeZendesk)
        return fake

    async def post_x(
        self, body: Any, secret: str = CONSUMER_SECRET, raw: bytes | None = None
    ) -> httpx.Response:
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(secret, data)}
        return await self.client.post("/webhooks/x", content=data, headers=headers)

    async def ring(self, ticket_id: int | str, **kwargs: Any) -> httpx.Response:
        headers, body = self.zendesk.doorbell(ticket_id, **kwargs)
        return await self.client.post("/webhooks/zendesk", content=body, headers=headers)

    async def drain(self) -> int:
        return await self.runtime.outbox.drain()

    async def settle(self, rounds: int = 20, step: float = 3600) -> None:
        """Drain, then keep moving the clock past retry delays until nothing is left to run."""
        for _ in range(rounds):
            await self.drain()
            states = await self.runtime.store.jobs_by_state()
            if not states.get("pending") and not states.get("running"):
                return
            self.clock.advance(step)

    def only_ticket(self) -> int:
        assert len(self.zendesk.tickets) == 1, self.zendesk.tickets
        return next(iter(self.zendesk.tickets))


async def start_gateway(database_url: str, vendor_dir: Path | None, **env: str) -> Gateway:
    settings = load_settings(None, gateway_env(database_url, **env))
    clock = Clock()
    sandbox = Sandbox(settings, vendor_dir, clock)
    pass_fault_time(sandbox, clock, settings)
    runtime = await Runtime.start(settings, transport=sandbox.transport(), clock=clock)
    app = create_app(settings, runtime)
    sandbox.reach_gateway(httpx.ASGITransport(app=app))  # X's CRC check calls the gateway back
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    return Gateway(settings, runtime, sandbox, client, clock)
