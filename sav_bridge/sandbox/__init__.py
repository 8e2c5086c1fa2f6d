"""In-process fakes of X and the helpdesks, for `make demo`, `sandbox: true` and the tests.

`Sandbox.transport()` is an `httpx.MockTransport` that routes by host to the right fake, so the
gateway runs its real HTTP clients against them. Request bodies are checked against the vendors'
OpenAPI documents when a vendor folder is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import urlsplit

import httpx

from sav_bridge.config import BaseSettings, Settings
from sav_bridge.sandbox.base import Answer, FakeVendor
from sav_bridge.sandbox.contracts import X_SPEC, OpenApiContract, Violation
from sav_bridge.sandbox.faults import Fault
from sav_bridge.sandbox.x import Customer, FakeX
from sav_bridge.sandbox.x.auth import configure_auth
from sav_bridge.sandbox.x.media import HOSTS as X_MEDIA_HOSTS
from sav_bridge.sandbox.x.media import MediaFile, MediaHosts

__all__ = [
    "SERVE_KEEPS",
    "Customer",
    "FakeX",
    "Fault",
    "MediaFile",
    "Sandbox",
    "helpdesk_fake",
    "vendor_contracts",
]

#: The requests each fake records in `serve` (`Sandbox.keep_last`): what just happened, not days of it.
SERVE_KEEPS = 1000
#: Entry-point group of the helpdesk plugins' fakes, named as their plugin (`<name> = "<module>:<Fake>"`).
SANDBOX_GROUP = "sav_bridge.sandboxes"


class HelpdeskFake(Protocol):
    """What a plugin registers in `sav_bridge.sandboxes`: a `FakeVendor` built from the plugin's section,
    checking requests against the specs it names in the vendor folder (none when `vendor_dir` is None)
    and answering for the hosts in its `hosts`."""

    def from_settings(
        self, settings: BaseSettings, vendor_dir: Path | None, clock: Callable[[], float]
    ) -> FakeVendor: ...


def vendor_contracts(vendor_dir: Path | None) -> dict[str, list[OpenApiContract]]:
    """The core's vendor specs (X), by fake name; empty lists when no vendor folder is available."""
    if vendor_dir is None:
        return {"x": []}
    return {"x": [OpenApiContract.from_vendor(vendor_dir, X_SPEC, check_query=True)]}


def helpdesk_fake(
    settings: BaseSettings, vendor_dir: Path | None, clock: Callable[[], float] = time.time
) -> FakeVendor:
    """The fake of the helpdesk `settings.helpdesk` names, from its plugin's entry point."""
    found = {point.name: point for point in entry_points(group=SANDBOX_GROUP)}
    if settings.helpdesk not in found:
        raise ValueError(
            f"no sandbox for helpdesk {settings.helpdesk!r}; installed: {', '.join(sorted(found))}"
        )
    factory: HelpdeskFake = found[settings.helpdesk].load()
    return factory.from_settings(settings, vendor_dir, clock)


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
        self.helpdesk = helpdesk_fake(settings, vendor_dir, clock)
        self.x_media = MediaHosts(self.x)
        self._hosts: dict[str, FakeVendor] = {
            urlsplit(settings.x.api_url).netloc: self.x,
            **{host: self.helpdesk for host in self.helpdesk.hosts},
            **{host: self.x_media for host in X_MEDIA_HOSTS},
        }
        self.checks_contracts = vendor_dir is not None

    def keep_last(self, count: int) -> Sandbox:
        """Each fake records only its last `count` requests (`FakeVendor.keep_last`): for `serve`."""
        for fake in {id(fake): fake for fake in self._hosts.values()}.values():
            fake.keep_last(count)
        return self

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
