"""The identity provider as the console's sign-in talks to it: discovery, the code exchange, its ID tokens.

The discovery document (`{issuer}/.well-known/openid-configuration`) is read once an hour per process and
must name the configured issuer and https endpoints. The code is exchanged at its token endpoint with the
PKCE verifier, the client authenticating with its secret when it has one (HTTP Basic unless the provider
only takes it in the form). The ID token is checked by `TokenVerifier` against the provider's JWKS, with
`client_id` as audience.

Every way the provider can fail us (unreachable, slow, a 4xx or 5xx, no JSON, a document without what
OpenID Connect requires) becomes `ProviderUnavailable` in `_json`, at one point: the person is told
which step failed (502), never shown a 500. Exceptions:

    ProviderUnavailable   the provider cannot be used now (502)
    NotAuthenticated      (auth.py) its ID token is not valid for us
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote_plus

import httpx

from sav_bridge.config import JwtSettings, OidcSettings
from sav_bridge.console.auth import Principal, TokenVerifier

DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_SECONDS = 3600.0
TIMEOUT_SECONDS = 10.0
#: What a provider's error text may add to our page (it is escaped there; this only keeps it short).
MAX_DETAIL = 300


class ProviderUnavailable(Exception):
    """The provider cannot be used now: unreachable, too slow, or answering what OpenID Connect does not."""


@dataclass(frozen=True)
class Discovery:
    """What the console needs from the provider's discovery document."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    #: `token_endpoint_auth_methods_supported`; None when the document does not say (Basic is the default).
    token_auth_methods: tuple[str, ...] | None


class IdentityProvider:
    def __init__(
        self,
        settings: OidcSettings,
        jwt: JwtSettings | None,
        group_roles: Mapping[str, str],
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
        admit: Callable[[str], None] | None = None,
    ) -> None:
        """`admit` lets the gateway's client reach the endpoints the issuer's discovery document names
        (`sav_bridge.egress`: the client reaches only the hosts the configuration names)."""
        self.settings = settings
        self._admit = admit
        self._jwt = jwt
        self._group_roles = group_roles
        self._client = client
        self._clock = clock
        self._discovery: Discovery | None = None
        self._read_at = 0.0
        self._verifier: TokenVerifier | None = None
        self._lock = asyncio.Lock()

    async def discovery(self) -> Discovery:
        """The provider's endpoints, read again when an hour old."""
        async with self._lock:
            if self._discovery is None or self._clock() - self._read_at > DISCOVERY_SECONDS:
                url = self.settings.issuer.rstrip("/") + DISCOVERY_PATH
                self._discovery = self._read_discovery(await self._json("GET", url, "discovery document"))
                if self._admit is not None:
                    self._admit(self._discovery.token_endpoint)
                    self._admit(self._discovery.jwks_uri)
                self._read_at = self._clock()
                self._verifier = None
            return self._discovery

    async def exchange(self, code: str, redirect_uri: str, code_verifier: str) -> str:
        """The ID token the token endpoint gives for `code` (RFC 6749 §4.1.3 with RFC 7636's verifier)."""
        found = await self.discovery()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": code_verifier, "client_id": self.settings.client_id}  # fmt: skip
        headers = {"accept": "application/json"}
        secret = self.settings.client_secret
        if secret is not None:
            methods = found.token_auth_methods
            if methods is None or "client_secret_basic" in methods:
                headers["authorization"] = _basic(self.settings.client_id, secret.reveal())
            else:
                form["client_secret"] = secret.reveal()
        answer = await self._json("POST", found.token_endpoint, "token endpoint", data=form, headers=headers)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise ProviderUnavailable("the identity provider's token endpoint gave no id_token")
        return id_token

    async def identify(self, id_token: str) -> tuple[Principal, dict[str, Any]]:
        """The person an ID token names and its claims; `NotAuthenticated` when it is not for us."""
        found = await self.discovery()
        if self._verifier is None:
            checks = JwtSettings(self.settings.issuer, self.settings.client_id, jwks_url=found.jwks_uri)
            if self._jwt is not None:  # the company's choices for its tokens hold for ID tokens too
                checks = replace(checks, algorithms=self._jwt.algorithms, roles_claim=self._jwt.roles_claim,
                                 leeway_seconds=self._jwt.leeway_seconds)  # fmt: skip
            self._verifier = TokenVerifier(checks, self._group_roles, self._client, self._clock)
        return await self._verifier.identify(id_token)

    def _read_discovery(self, document: dict[str, Any]) -> Discovery:
        if document.get("issuer") != self.settings.issuer:
            named = str(document.get("issuer"))[:100]
            raise ProviderUnavailable(
                f"the identity provider's discovery document names the issuer {named!r}, "
                f"not {self.settings.issuer!r} (console.oidc.issuer)"
            )
        endpoints: dict[str, str] = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(name)
            if not isinstance(value, str) or not value.startswith("https://"):
                raise ProviderUnavailable(f"the identity provider's discovery document has no https {name}")
            endpoints[name] = value
        challenges = document.get("code_challenge_methods_supported")
        if isinstance(challenges, list) and "S256" not in challenges:
            raise ProviderUnavailable("the identity provider does not take PKCE S256 code challenges")
        methods = document.get("token_endpoint_auth_methods_supported")
        return Discovery(
            **endpoints,
            token_auth_methods=tuple(str(m) for m in methods) if isinstance(methods, list) else None,
        )

    async def _json(self, method: str, url: str, what: str, **options: Any) -> dict[str, Any]:
        """One call to the provider, its failures mapped to `ProviderUnavailable`."""
        what = f"the identity provider's {what}"
        try:
            response = await self._client.request(method, url, timeout=TIMEOUT_SECONDS, **options)
        except httpx.TimeoutException:
            raise ProviderUnavailable(f"{what} did not answer within {TIMEOUT_SECONDS:g} s") from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{what} cannot be reached ({type(exc).__name__})") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not response.is_success:
            raise ProviderUnavailable(f"{what} answered {response.status_code}{_error_detail(data)}")
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{what} did not answer with a JSON object")
        return data


def _basic(client_id: str, secret: str) -> str:
    """client_secret_basic: both parts form-encoded before Base64 (RFC 6749 §2.3.1)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _error_detail(data: Any) -> str:
    """The OAuth error an answer carries (RFC 6749 §5.2), for the page: ": invalid_grant (code expired)"."""
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return ""
    description = data.get("error_description")
    detail = str(data["error"]) + (
        f" ({description})" if isinstance(description, str) and description else ""
    )
    return ": " + detail[:MAX_DETAIL]
