"""`sav-bridge x connect`: the brand account approves the app once; its OAuth 2.0 tokens go to the database.

x connect ── start(): PKCE verifier and `state`, sealed in the store for 10 minutes
    └─▶ prints X's consent address; the brand account approves there
X redirects the browser to <redirect_uri>?state=…&code=…, received by
    ├── the gateway's GET /oauth/x/callback (any replica: the pending authorisation is in the database)
    └── or, with --paste, the administrator pasting that address
complete(): `state` checked (constant time), the code exchanged with the verifier (30 s, once),
    the tokens sealed and stored, the pause of the X destination (if any) ended.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import parse_qsl, urlsplit

import httpx

from sav_bridge.channels.x.access import FIX_OAUTH2, AccessGate
from sav_bridge.channels.x.oauth2 import TokenRefused, Tokens, authorize_url, new_pkce, new_state
from sav_bridge.channels.x.tokens import TokenKeeper
from sav_bridge.channels.x.vault import Unreadable
from sav_bridge.config import Settings
from sav_bridge.errors import ConfigError, SavBridgeError
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store, open_store

PENDING_NAME = "x.oauth2.pending"
PENDING_SECONDS = 600.0
CALLBACK_PATH = "/oauth/x/callback"
POLL_SECONDS = 1.0


class ConnectFailed(SavBridgeError):
    """The authorisation did not complete; the message says what to do (usually: run x connect again)."""


@dataclass(frozen=True)
class Connector:
    store: Store
    keeper: TokenKeeper
    gate: AccessGate | None

    async def start(self, redirect_uri: str) -> tuple[str, str]:
        """Begin an authorisation: (the address to open, its `state`). A newer one replaces an older one."""
        pkce, state = new_pkce(), new_state()
        pending = {"state": state, "verifier": pkce.verifier, "redirect_uri": redirect_uri, "done": False}
        expires = self.store.clock() + PENDING_SECONDS
        await self.store.secrets.put(PENDING_NAME, self.keeper.vault.seal(pending), expires)
        return authorize_url(self.keeper.client.client_id, redirect_uri, state, pkce), state

    async def complete(self, state: str, code: str, error: str | None = None) -> Tokens:
        """Finish the authorisation X redirected back with (`error` when the account refused)."""
        pending = await self._pending()
        if pending is None or pending.get("done"):
            raise ConnectFailed("no authorisation is waiting (older than 10 minutes, or done): run `sav-bridge x connect` again")  # fmt: skip
        if not hmac.compare_digest(state.encode(), str(pending["state"]).encode()):
            raise ConnectFailed("this address does not answer the authorisation just started (state differs)")
        if error:
            raise ConnectFailed(
                f"X did not authorise the app ({error[:60]}): run `sav-bridge x connect` again"
            )
        try:
            tokens = await self.keeper.client.exchange(
                code, str(pending["verifier"]), str(pending["redirect_uri"])
            )
        except TokenRefused:
            raise ConnectFailed(
                "X refused the code (it is valid 30 seconds, once): run `sav-bridge x connect` again"
            ) from None
        await self.keeper.store_grant(tokens)
        await self.store.secrets.put(PENDING_NAME, self.keeper.vault.seal({**pending, "done": True}), 0)
        if self.gate is not None:
            await self.gate.restored("the brand account was connected again with `sav-bridge x connect`")
        return tokens

    async def done(self, state: str) -> bool:
        pending = await self._pending(expired_too=True)
        return pending is not None and pending.get("state") == state and bool(pending.get("done"))

    async def _pending(self, expired_too: bool = False) -> dict[str, object] | None:
        sealed = await self.store.secrets.get(PENDING_NAME)
        if sealed is None:
            return None
        if not expired_too and (sealed.expires_at or 0) < self.store.clock():
            return None
        try:
            return self.keeper.vault.open(sealed.ciphertext)
        except Unreadable:
            return None


def parse_redirect(address: str) -> tuple[str, str, str | None]:
    """(state, code, error) from the address X sent the browser to."""
    query = dict(parse_qsl(urlsplit(address.strip()).query))
    if "state" not in query or ("code" not in query and "error" not in query):
        raise ConnectFailed(
            "paste the whole address the browser shows after approving (with ?state=…&code=…)"
        )
    return query["state"], query.get("code", ""), query.get("error")


async def run_connect(
    settings: Settings,
    redirect_uri: str | None,
    paste: bool,
    wait_seconds: float,
    stdin: TextIO,
    stdout: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """The command: print the address, then take the redirect (pasted, or received by the gateway)."""
    from sav_bridge.channels.x.auth import token_keeper
    from sav_bridge.runtime import USER_AGENT

    if settings.x.auth != "oauth2":
        raise ConfigError(
            "x.auth", "is oauth1, whose keys need no connect; set x.auth: oauth2 to use OAuth 2.0"
        )
    if redirect_uri is None:
        if not settings.public_url:
            raise ConfigError("public_url", "is needed to name the callback address (or pass --redirect-uri)")
        redirect_uri = settings.public_url.rstrip("/") + CALLBACK_PATH
    store = await open_store(settings.database_url, clock)
    try:
        async with httpx.AsyncClient(transport=transport, headers={"User-Agent": USER_AGENT}) as http:
            keeper = token_keeper(settings, store, http)
            connector = Connector(store, keeper, AccessGate(store, Metrics(), FIX_OAUTH2))
            url, state = await connector.start(redirect_uri)
            stdout.write(
                "Open this address signed in as the brand account, and approve the app:\n"
                f"\n  {url}\n\nX then sends the browser to {redirect_uri}\n"
            )
            if paste:
                stdout.write("Paste the address the browser shows after approving: ")
                stdout.flush()
                tokens = await connector.complete(*parse_redirect(await asyncio.to_thread(stdin.readline)))
            else:
                stdout.write(f"Waiting up to {wait_seconds:g} s for the gateway to receive it…\n")
                stdout.flush()
                tokens = await _wait(connector, keeper, state, wait_seconds, sleep)
    finally:
        await store.close()
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(tokens.expires_at))
    stdout.write(
        f"X is connected: tokens stored encrypted; refreshed automatically (current one until {until}).\n"
    )
    return 0


async def _wait(
    connector: Connector,
    keeper: TokenKeeper,
    state: str,
    seconds: float,
    sleep: Callable[[float], Awaitable[None]],
) -> Tokens:
    deadline = time.monotonic() + seconds
    while not await connector.done(state):
        if time.monotonic() > deadline:
            raise ConnectFailed(
                "the gateway did not receive X's redirect in time: is it running at the callback address? "
                "Or run `sav-bridge x connect --paste`"
            )
        await sleep(POLL_SECONDS)
    found = await keeper.stored()
    if found is None:
        raise ConnectFailed("the tokens were not stored")
    return found[0]
