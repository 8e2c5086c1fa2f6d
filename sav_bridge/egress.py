"""Outgoing calls: only to the hosts the configuration names, with a timeout, never following a redirect
unless a file download asks to, and then only from one named host to another.

Every HTTP client the gateway and its commands use is built by `outbound_client`, which sets a timeout
(httpx's `timeout=None` is never used), leaves redirects off, and checks each request against an
`AllowList` in an httpx request hook: a request to any other host fails with `EgressRefused` before a
byte leaves, naming the host and nothing else of the URL (a query may carry a token). The hook runs for
every hop of a redirect too, so a download that follows one (X's media, a helpdesk's attachment) cannot
be sent elsewhere.

The list is read from the configuration (`AllowList.from_settings`): X's API (`x.api_url`) and media
hosts, every URL of the helpdesk plugin's section (its base or login URL), the hosts the plugin names as
vendor facts (`remote_hosts`, such as the file host a helpdesk redirects downloads to), the console's
JWKS (`console.jwt.jwks_url`) and OpenID issuer (`console.oidc.issuer`). The endpoints the issuer's own
discovery document names are admitted when it is read (`admit`). In sandbox mode the fakes answer for
these same hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from sav_bridge.config import BaseSettings
from sav_bridge.errors import PermanentError
from sav_bridge.lease import ensure_current

#: The timeout of a client whose caller names none (a plugin passes its own on each call).
DEFAULT_TIMEOUT = 10.0


class EgressRefused(PermanentError):
    """A call to a host the configuration does not name; refused before it left. Retrying cannot help:
    the configuration (or the plugin's `remote_hosts`) has to name the host."""

    def __init__(self, host: str) -> None:
        super().__init__(
            "egress",
            f"refused a call to {host or 'a URL without a host'}: not a host the configuration names "
            "(x.api_url, the helpdesk's URL, console.jwt.jwks_url, console.oidc.issuer)",
        )
        self.host = host


def host_of(url: str) -> str:
    """The host of `url`, lowercased, without port or credentials; "" when it has none."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


@dataclass
class AllowList:
    """Hosts outgoing calls may reach: exact names, and `*.example.com` patterns for any subdomain."""

    hosts: set[str] = field(default_factory=set)
    suffixes: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, names: Iterable[str]) -> AllowList:
        allowed = cls()
        for name in names:
            allowed.add(name)
        return allowed

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> AllowList:
        """The hosts the configuration names (module docstring)."""
        names: list[str] = []
        x = getattr(settings, "x", None)
        if x is not None:
            from sav_bridge.channels.x.media import PRIVATE_HOSTS, PUBLIC_HOSTS

            names += [host_of(x.api_url), *PUBLIC_HOSTS, *PRIVATE_HOSTS]
        names += _urls_in(settings.helpdesk_section())
        names += _plugin_hosts(settings.helpdesk)
        jwt, oidc = settings.console.jwt, settings.console.oidc
        names += [host_of(jwt.jwks_url)] if jwt is not None and jwt.jwks_url else []
        names += [host_of(oidc.issuer)] if oidc is not None else []
        return cls.of(name for name in names if name)

    def add(self, name: str) -> None:
        name = name.strip().lower().rstrip(".")
        if name.startswith("*."):
            self.suffixes.add(name[1:])
        elif name:
            self.hosts.add(name)

    def admit(self, url: str) -> None:
        """Allow the host of `url`, named by a document the gateway trusts (an OpenID discovery document
        read from the configured issuer)."""
        host = host_of(url)
        if host:
            self.hosts.add(host)

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or any(host.endswith(suffix) for suffix in self.suffixes)

    async def check(self, request: httpx.Request) -> None:
        """The request hook: `EgressRefused` for a host not on the list, before the request is sent."""
        host = request.url.host
        if not self.allows(host):
            raise EgressRefused(host)


def destination_hosts(settings: BaseSettings) -> dict[str, AllowList]:
    """The hosts of each destination jobs write to, by name: X's API as `x`, and the helpdesk's (its
    section's URLs, the plugin's `remote_hosts`) under the plugin's name; what the per-destination rate
    limits and parks apply to (`sav_bridge.throttle`)."""
    found: dict[str, AllowList] = {}
    x = getattr(settings, "x", None)
    if x is not None:
        found["x"] = AllowList.of([host_of(x.api_url)])
    if settings.helpdesk:
        names = _urls_in(settings.helpdesk_section()) + _plugin_hosts(settings.helpdesk)
        found[settings.helpdesk] = AllowList.of(name for name in names if name)
    return found


def _urls_in(section: Mapping[str, Any]) -> list[str]:
    """The hosts of the http(s) URLs among a plugin section's values (its base URL, a login URL)."""
    return [
        host_of(value)
        for value in section.values()
        if isinstance(value, str) and value.startswith(("https://", "http://"))
    ]


def _plugin_hosts(name: str) -> list[str]:
    """The vendor's own hosts beyond its configured URL, as the plugin class lists them (`remote_hosts`)."""
    if not name:
        return []
    from sav_bridge.helpdesks import available

    point = available().get(name)
    if point is None:
        return []
    return [str(host) for host in getattr(point.load(), "remote_hosts", ())]


def outbound_client(
    settings: BaseSettings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
    allowed: AllowList | None = None,
) -> httpx.AsyncClient:
    """An HTTP client for calls to the outside world: `timeout` on every call, no redirect followed, and
    only the hosts of `allowed` (by default those the configuration names). `transport` replaces the
    network (the sandbox, tests)."""
    allowed = allowed if allowed is not None else AllowList.from_settings(settings)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers=dict(headers or {}),
        # A worker whose job's lease passed to another replica stops here, before the call leaves.
        event_hooks={"request": [allowed.check, _lease_still_ours], "response": []},
    )


async def _lease_still_ours(request: httpx.Request) -> None:
    await ensure_current()
