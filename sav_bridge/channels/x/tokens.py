"""The brand's OAuth 2.0 tokens, kept in the database (sealed) and refreshed by one replica at a time.

X's refresh tokens are single-use and rotate: if two replicas spent the same one, X would refuse the
second and the brand would be locked out. So a replica that finds the access token close to expiry
first takes a lease in `store.state` (one atomic upsert: exactly one replica gets it), re-reads the
stored pair under it, refreshes only if nobody did meanwhile, and stores the new pair (compare-and-swap
on the row's `version`) before anyone uses it. A replica without the lease waits for the new pair.

A refresh whose answer is lost (timeout) may still have spent the refresh token at X: the next attempt
then gets `TokenRefused`, and only `sav-bridge x connect` restores access.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from sav_bridge.channels.x.oauth2 import OAuth2Client, TokenRefused, Tokens
from sav_bridge.channels.x.vault import Unreadable, Vault
from sav_bridge.config import same_secret
from sav_bridge.errors import RetryableError
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store

log = logging.getLogger(__name__)

SECRET_NAME = "x.oauth2"
LEASE_NAME = "x.oauth2.refresh"
#: The lease outlasts a token call (at most `OAuth2Client.timeout`) twice over, plus this, for the store's
#: reads and writes around it; a replica that died holding the lease is replaced when it lapses.
LEASE_MARGIN_SECONDS = 30.0
#: How often, and how long, a replica waits for another one's refresh.
POLL_SECONDS = 0.05
WAIT_SECONDS = 15.0
#: Why no stored grant can be used, as `x status`, `check --online` and the `not_connected` alert say it.
NOT_CONNECTED = "not connected: run `sav-bridge x connect`"
UNREADABLE = "tokens unreadable with this secrets_key: run `sav-bridge x connect`"


class AccessLost(Exception):
    """No usable grant: none stored, X refused the refresh, or the stored one cannot be decrypted.
    Only a person can fix it (`sav-bridge x connect`); the message says which."""


async def grant_problem(store: Store, vault: Vault | None) -> str | None:
    """Why the stored grant cannot be used (`NOT_CONNECTED`, `UNREADABLE`), or None when it can be read.
    Without a `vault` (no `secrets_key`) a stored grant is unreadable."""
    sealed = await store.secrets.get(SECRET_NAME)
    if sealed is None:
        return NOT_CONNECTED
    if vault is None:
        return UNREADABLE
    try:
        vault.open(sealed.ciphertext)
    except Unreadable:
        return UNREADABLE
    return None


class TokenKeeper:
    def __init__(
        self,
        store: Store,
        vault: Vault,
        client: OAuth2Client,
        margin_seconds: float,
        metrics: Metrics | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.vault = vault
        self.client = client
        self.margin = margin_seconds
        self.metrics = metrics
        self._sleep = sleep
        #: Refreshes this replica made (tests and the metrics count them).
        self.refreshes = 0

    @property
    def lease_seconds(self) -> float:
        """How long the refresh lease lasts: never less than the refresh it guards."""
        return 2 * self.client.timeout + LEASE_MARGIN_SECONDS

    async def seed(self, refresh_token: str | None) -> bool:
        """Start from `x.refresh_token` when nothing is stored yet; a stored grant is always newer (it
        rotated since), so the configured one is then ignored. True when it was stored."""
        if not refresh_token:
            return False
        return await self.store.secrets.create(
            SECRET_NAME, self.vault.seal(Tokens(None, refresh_token, 0).as_json()), 0
        )

    async def store_grant(self, tokens: Tokens) -> None:
        """Keep a grant a person just made (`x connect`), whatever was stored before."""
        await self.store.secrets.put(SECRET_NAME, self.vault.seal(tokens.as_json()), tokens.expires_at)

    async def stored(self) -> tuple[Tokens, int] | None:
        sealed = await self.store.secrets.get(SECRET_NAME)
        if sealed is None:
            return None
        try:
            return Tokens.from_json(self.vault.open(sealed.ciphertext)), sealed.version
        except Unreadable:
            raise AccessLost(f"X {UNREADABLE}") from None

    async def access_token(self, ahead: float = 0.0) -> str:
        """A token valid for at least the margin (plus `ahead` seconds), refreshed first if needed."""
        tokens, version = await self._read()
        if self._usable(tokens, ahead):
            return str(tokens.access_token)
        return await self._refresh(version, None)

    async def after_refusal(self, refused: str) -> str:
        """A new access token after X answered 401 to `refused`: refreshed unless another replica did."""
        tokens, version = await self._read()
        if not same_secret(tokens.access_token, refused) and self._usable(tokens):
            return str(tokens.access_token)
        return await self._refresh(version, refused)

    def _usable(self, tokens: Tokens, ahead: float = 0.0) -> bool:
        return bool(tokens.access_token) and tokens.expires_at - self.margin - ahead > self.store.clock()

    async def _read(self) -> tuple[Tokens, int]:
        found = await self.stored()
        if found is None:
            raise AccessLost(f"X {NOT_CONNECTED}")
        return found

    async def _refresh(self, seen: int, refused: str | None) -> str:
        deadline = time.monotonic() + WAIT_SECONDS
        # One holder per refresh, not per replica: two requests of this replica must not both spend it.
        holder = uuid.uuid4().hex
        while True:
            if await self.store.state.take_lease(LEASE_NAME, holder, self.lease_seconds):
                try:
                    return await self._refresh_holding_lease(seen, refused)
                finally:
                    await self.store.state.release_lease(LEASE_NAME, holder)
            await self._sleep(POLL_SECONDS)
            tokens, version = await self._read()
            if version != seen and self._usable(tokens) and not same_secret(tokens.access_token, refused):
                return str(tokens.access_token)
            if time.monotonic() > deadline:
                raise RetryableError("x", "another replica is refreshing the X token", None, 5.0)

    async def _refresh_holding_lease(self, seen: int, refused: str | None) -> str:
        tokens, version = await self._read()
        if version != seen and self._usable(tokens) and not same_secret(tokens.access_token, refused):
            return str(tokens.access_token)  # refreshed by another replica meanwhile
        if not tokens.refresh_token:
            raise AccessLost("no X refresh token is stored")
        try:
            fresh = await self.client.refresh(tokens.refresh_token)
        except TokenRefused as exc:
            raise AccessLost(str(exc)) from None
        fresh = replace(fresh, refresh_token=fresh.refresh_token or tokens.refresh_token)
        sealed = self.vault.seal(fresh.as_json())
        if not await self.store.secrets.replace(SECRET_NAME, version, sealed, fresh.expires_at):
            # `x connect` stored a new grant while we refreshed the old one: the new grant wins.
            log.warning("X tokens were replaced during a refresh; using the newly connected ones")
            return await self.access_token()
        self.refreshes += 1
        if self.metrics is not None:
            self.metrics.x_token_refreshes.inc()
        log.info("X access token refreshed; valid until %s", _iso(fresh.expires_at))
        return str(fresh.access_token)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
