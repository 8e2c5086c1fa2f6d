"""How the gateway acts as the brand account on X, chosen by `x.auth`: one `httpx.Auth` per scheme.

- `oauth1`: OAuth 1.0a user context. Every request is signed (HMAC-SHA1) by authlib's client, which signs
  the query parameters and a form-encoded body, never a JSON or multipart body, as X expects. The keys
  do not expire, so a 401 means they were revoked or are wrong: the destination is paused at once.
- `oauth2`: OAuth 2.0 user context. The bearer token comes from the `TokenKeeper` (refreshed before it
  expires, by one replica at a time); a 401 gets one refresh and one retry, then pauses the destination.

Both ask the `AccessGate` first, so that nothing is sent to X while it is paused, and a refusal raises
`AccessPaused` (a `Paused` job waits; a write's intent is dropped since X did nothing). A probe of a
pause ends it on any answer but a 401 or a 5xx: a 403, 404 or 429 means X accepted the credentials.

A DM's media is fetched with its own auth (`XAccess.media`), with no gate and no refresh: a 401 from
ton.twitter.com means that media is gone or not ours to see, never that the brand's access is lost.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

import httpx
from authlib.oauth1 import ClientAuth

from sav_bridge.channels.x.access import FIX_OAUTH1, FIX_OAUTH2, AccessGate
from sav_bridge.channels.x.connect import Connector, connector_for
from sav_bridge.channels.x.oauth2 import OAuth2Client
from sav_bridge.channels.x.tokens import AccessLost, TokenKeeper
from sav_bridge.channels.x.vault import Vault
from sav_bridge.config import Secret, Settings
from sav_bridge.errors import ConfigError, DeliveryError, PermanentError
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store


def accepted(response: httpx.Response) -> bool:
    """Whether X took the credentials: anything but a 401 (a 403, 404 or 429 is about the request, and
    X checks the credentials first); a 5xx proves nothing either way."""
    return response.status_code != 401 and response.status_code < 500


class OAuth1(httpx.Auth):
    """OAuth 1.0a user context (RFC 5849 HMAC-SHA1), signed by authlib."""

    requires_request_body = True

    def __init__(
        self, consumer_key: str, consumer_secret: str, token: str, token_secret: str, gate: AccessGate | None
    ) -> None:
        self._signer = ClientAuth(consumer_key, consumer_secret, token=token, token_secret=token_secret)
        self.gate = gate

    def sign(self, request: httpx.Request) -> httpx.Request:
        _, headers, _ = self._signer.prepare(
            request.method, str(request.url), httpx.Headers(request.headers), request.content
        )
        request.headers["Authorization"] = headers["Authorization"]
        return request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        probe = await self.gate.admit() if self.gate else False
        await request.aread()
        response = yield self.sign(request)
        if response.status_code == 401 and self.gate:
            raise await self.gate.refused("X answered 401 to a request signed with the OAuth 1.0a keys")
        if probe and self.gate and accepted(response):
            await self.gate.restored(f"a request was answered HTTP {response.status_code}")


class OAuth2(httpx.Auth):
    """OAuth 2.0 user context: the brand's current access token as a bearer, one refresh after a 401."""

    def __init__(self, keeper: TokenKeeper, gate: AccessGate | None) -> None:
        self.keeper = keeper
        self.gate = gate

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        probe = await self.gate.admit() if self.gate else False
        try:
            token = await self.keeper.access_token()
        except AccessLost as exc:
            raise await self._refused(str(exc)) from None
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            try:
                token = await self.keeper.after_refusal(token)
            except AccessLost as exc:
                raise await self._refused(str(exc)) from None
            request.headers["Authorization"] = f"Bearer {token}"
            response = yield request
            if response.status_code == 401 and self.gate:
                raise await self.gate.refused("X answered 401 to a freshly refreshed OAuth 2.0 token")
        if probe and self.gate and accepted(response):
            await self.gate.restored(f"a request was answered HTTP {response.status_code}")

    async def _refused(self, reason: str) -> DeliveryError:
        if self.gate is None:
            return PermanentError("x", f"{reason}; {FIX_OAUTH2}", 401)
        return await self.gate.refused(reason)


@dataclass(frozen=True)
class XAccess:
    """The brand's access to X as wired for one replica: `auth` for `XClient`, the shared pause, `media`
    for a DM's media (None when it cannot be fetched), and for OAuth 2.0 the token keeper and the token
    endpoint (`x connect`)."""

    auth: httpx.Auth
    gate: AccessGate
    keeper: TokenKeeper | None = None
    connector: Connector | None = None
    media: httpx.Auth | None = None

    async def keep_fresh(self, until: float = 0.0) -> None:
        """Refresh the OAuth 2.0 access token if it would come within the keeper's margin in the next
        `until` seconds (the health task, every minute). Nothing while paused: a refused refresh token
        is not tried again until the gate's probe or `x connect`; a refusal here pauses, as one during a
        request would."""
        if self.keeper is None or await self.gate.pause() is not None:
            return
        try:
            await self.keeper.access_token(until)
        except AccessLost as exc:
            raise await self.gate.refused(str(exc)) from None


def _key(value: Secret | None, name: str) -> str:
    if value is None:  # the schema requires it; this keeps a hand-built Settings honest
        raise ConfigError(f"x.{name}", "is required with x.auth: oauth1, the default")
    return value.reveal()


def token_keeper(
    settings: Settings, store: Store, http: httpx.AsyncClient, metrics: Metrics | None = None
) -> TokenKeeper:
    """The OAuth 2.0 token keeper (`x.auth: oauth2`); `ConfigError` without `x.client_id` or `secrets_key`."""
    x = settings.x
    if not x.client_id:
        raise ConfigError("x.client_id", "is required with x.auth: oauth2")
    if settings.secrets_key is None:
        raise ConfigError("secrets_key", "is required with x.auth: oauth2 (it encrypts the stored tokens)")
    client = OAuth2Client(http, x.api_url, x.client_id, x.client_secret, store.clock, x.timeout_seconds)
    return TokenKeeper(store, Vault(settings.secrets_key), client, x.refresh_margin_seconds, metrics)


async def x_access(settings: Settings, store: Store, http: httpx.AsyncClient, metrics: Metrics) -> XAccess:
    """Build the brand's access from `x.auth`; OAuth 2.0 also stores `x.refresh_token` when nothing is."""
    x = settings.x
    if x.auth == "oauth2":
        gate = AccessGate(store, metrics, FIX_OAUTH2)
        keeper = token_keeper(settings, store, http, metrics)
        await keeper.seed(x.refresh_token.reveal() if x.refresh_token else None)
        # X serves a DM's media only to requests signed with OAuth 1.0a, never to a bearer token: an
        # OAuth 2.0 deployment fetches it only if the OAuth 1.0a keys are set as well.
        keys = x.consumer_key and x.access_token and x.access_token_secret
        media = oauth1(settings, None) if keys else None
        connector = connector_for(settings, store, keeper, gate, http)
        return XAccess(OAuth2(keeper, gate), gate, keeper, connector, media)
    gate = AccessGate(store, metrics, FIX_OAUTH1)
    return XAccess(oauth1(settings, gate), gate, media=oauth1(settings, None))


def oauth1(settings: Settings, gate: AccessGate | None) -> OAuth1:
    """The OAuth 1.0a keys of `x`, behind `gate` (None: no pause, a 401 is the caller's answer)."""
    x = settings.x
    keys = (x.consumer_key, x.access_token, x.access_token_secret)
    names = ("consumer_key", "access_token", "access_token_secret")
    key, token, secret = (_key(value, name) for value, name in zip(keys, names, strict=True))
    return OAuth1(key, x.consumer_secret.reveal(), token, secret, gate)


def unpaused_auth(settings: Settings, http: httpx.AsyncClient, store: Store | None) -> httpx.Auth:
    """The same credentials without the shared pause (`check --online`: try them, report, change nothing).
    OAuth 2.0 reads (and may refresh) the stored tokens, so it needs the `store`."""
    x = settings.x
    if x.auth == "oauth2":
        if store is None:
            raise ConfigError("database_url", "is needed to read the stored OAuth 2.0 tokens")
        return OAuth2(token_keeper(settings, store, http), None)
    return oauth1(settings, None)
