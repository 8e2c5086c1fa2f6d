"""In-process fakes of X and the helpdesks, for `make demo`, `sandbox: true` and the tests.

`Sandbox.transport()` is an `httpx.MockTransport` that routes by host to the right fake, so the
gateway runs its real HTTP clients against them. Request bodies are checked against the vendors'
OpenAPI documents when a vendor folder is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import httpx

from sav_bridge.config import BaseSettings, Secret, Settings
from sav_bridge.sandbox.base import Answer, FakeVendor
from sav_bridge.sandbox.contracts import (
    X_SPEC,
    ZENDESK_SPEC,
    ZENDESK_WEBHOOKS_SPEC,
    OpenApiContract,
    Violation,
)
from sav_bridge.sandbox.faults import Fault
from sav_bridge.sandbox.x import Customer, FakeX
from sav_bridge.sandbox.x.auth import configure_auth
from sav_bridge.sandbox.x.media import HOSTS as X_MEDIA_HOSTS
from sav_bridge.sandbox.x.media import MediaFile, MediaHosts
from sav_bridge.sandbox.zendesk import FakeZendesk

__all__ = ["Customer", "FakeX", "FakeZendesk", "Fault", "MediaFile", "Sandbox", "vendor_contracts"]


def vendor_contracts(vendor_dir: Path | None) -> dict[str, list[OpenApiContract]]:
    """The vendors' specs, by fake name; empty lists when no vendor folder is available."""
    if vendor_dir is None:
        return {"x": [], "zendesk": []}
    return {
        "x": [OpenApiContract.from_vendor(vendor_dir, X_SPEC, check_query=True)],
        "zendesk": [
            OpenApiContract.from_vendor(vendor_dir, ZENDESK_SPEC),
            OpenApiContract.from_vendor(vendor_dir, ZENDESK_WEBHOOKS_SPEC, prefix="/api/v2"),
        ],
    }


def _reveal(value: object) -> str:
    return value.reveal() if isinstance(value, Secret) else str(value)


def _fake_zendesk(
    settings: BaseSettings, contracts: list[OpenApiContract], clock: Callable[[], float]
) -> FakeVendor:
    section = settings.helpdesk_section()
    return FakeZendesk(
        section["email"],
        _reveal(section["api_token"]),
        _reveal(section["webhook_secret"]),
        contracts,
        clock,
        section["url"],
    )


HELPDESK_FAKES: dict[
    str, Callable[[BaseSettings, list[OpenApiContract], Callable[[], float]], FakeVendor]
] = {
    "zendesk": _fake_zendesk,
}


class Sandbox:
    def __init__(
        self, settings: Settings, vendor_dir: Path | None, clock: Callable[[], float] = time.time
    ) -> None:
        contracts = vendor_contracts(vendor_dir)
        self.x = FakeX(
            settings.x.account_id,
            settings.x.screen_name or "brand",
            "",
            contracts["x"],
            clock,
        )
        configure_auth(self.x, settings)
        self.x.consumer_secret = settings.x.consumer_secret.reveal()
        self.x.bearer_token = settings.x.bearer_token.reveal() if settings.x.bearer_token else ""
        if settings.helpdesk not in HELPDESK_FAKES:
            raise ValueError(f"no sandbox for helpdesk {settings.helpdesk!r}")
        self.helpdesk = HELPDESK_FAKES[settings.helpdesk](
            settings, contracts.get(settings.helpdesk, []), clock
        )
        self.x_media = MediaHosts(self.x)
        self._hosts: dict[str, FakeVendor] = {
            urlsplit(settings.x.api_url).netloc: self.x,
            urlsplit(settings.helpdesk_section()["url"]).netloc: self.helpdesk,
            **{host: self.x_media for host in X_MEDIA_HOSTS},
        }
        self.checks_contracts = vendor_dir is not None

    def _handle(self, request: httpx.Request) -> Answer:
        fake = self._hosts.get(request.url.netloc.decode())
        if fake is None:
            return httpx.Response(502, json={"error": f"sandbox has no fake for {request.url.host}"})
        return fake.respond(request)

    def transport(self) -> httpx.MockTransport:
        """Routes answer at once, except those that call the gateway back (X's CRC on webhook
        registration): these answer with a coroutine, which only an async client can await."""
        return httpx.MockTransport(cast(Callable[[httpx.Request], httpx.Response], self._handle))

    def reach_gateway(self, transport: httpx.AsyncBaseTransport) -> None:
        """How the fakes call the gateway back (X's CRC check): its app's `httpx.ASGITransport` in tests
        and in `serve` with `sandbox: true`. Without it, a webhook registration fails its CRC check."""
        self.x.gateway = transport

    @property
    def violations(self) -> list[Violation]:
        return self.x.violations + self.helpdesk.violations
