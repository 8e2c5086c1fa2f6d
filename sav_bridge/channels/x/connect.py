"""`sav-bridge x connect`: the brand account approves the app once; its OAuth 2.0 tokens go to the database.

x connect ── start(): PKCE verifier and `state`, sealed in the store for 10 minutes
    └─▶ prints X's consent address; the brand account approves there
X redirects the browser to <redirect_uri>?state=…&code=…, received by
    ├── the gateway's GET /oauth/x/callback (any replica: the pending authorisation is in the database)
    └── or, with --paste, the administrator pasting that address
complete(): `state` checked (constant time), the code exchanged with the verifier (30 s, once),
    the account that approved asked of X (`GET /2/users/me`) and refused unless it is `x.account_id`,
    the tokens sealed and stored, the pause of the X destination (if any) ended.
    A failure after `state` matched (X's `error=access_denied`, a refused code, another account) is
    recorded with the pending authorisation, so that `x connect` waiting on the gateway stops at once
    with the reason instead of waiting out `--wait`.
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
from sav_bridge.channels.x.client import XClient
from sav_bridge.channels.x.oauth2 import TokenRefused, Tokens, authorize_url, new_pkce, new_state
from sav_bridge.channels.x.provision import BearerAuth
from sav_bridge.channels.x.tokens import TokenKeeper
from sav_bridge.channels.x.vault import Unreadable
from sav_bridge.config import Settings
from sav_bridge.errors import ConfigError, DeliveryError, SavBridgeError
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store, open_store

PENDING_NAME = "x.oauth2.pending"
#: The account whose tokens are stored: `{"id", "username", "at"}` (`x status` shows it).
ACCOUNT_FACT = "x.oauth2.account"
PENDING_SECONDS = 600.0
CALLBACK_PATH = "/oauth/x/callback"
POLL_SECONDS = 1.0


class ConnectFailed(SavBridgeError):
    """The authorisation did not complete; the message says what to do (usually: run x connect again)."""


#: `GET /2/users/me` with an access token: (id, username) of the account that approved the app.
WhoAmI = Callable[[str], Awaitable[tuple[str, str]]]


def users_me(http: httpx.AsyncClient, api_url: str) -> WhoAmI:
    async def whoami(access_token: str) -> tuple[str, str]:
        return await XClient(http, api_url, BearerAuth(access_token)).verify_credentials()

    return whoami


@dataclass(frozen=True)
class Connector:
    store: Store
    keeper: TokenKeeper
    gate: AccessGate | None
    #: The brand account (`x.account_id`, `x.screen_name`): the only one whose tokens are kept.
    account_id: str
    screen_name: str
    whoami: WhoAmI

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
        if pending is None or pending.get("done") or pending.get("failed"):
            raise ConnectFailed("no authorisation is waiting (older than 10 minutes, or done): run `sav-bridge x connect` again")  # fmt: skip
        if not hmac.compare_digest(state.encode(), str(pending["state"]).encode()):
            raise ConnectFailed("this address does not answer the authorisation just started (state differs)")
        try:
            tokens, user_id, username = await self._finish(pending, code, error)
        except ConnectFailed as exc:
            # The code is spent and `x connect` is waiting: tell it why, it stops at once.
            await self._settle(pending, failed=str(exc))
            raise
        await self.keeper.store_grant(tokens)
        await self.store.state.put(
            ACCOUNT_FACT, {"id": user_id, "username": username, "at": self.store.clock()}
        )
        await self._settle(pending, done=True)
        if self.gate is not None:
            await self.gate.restored("the brand account was connected again with `sav-bridge x connect`")
        return tokens

    async def _finish(
        self, pending: dict[str, object], code: str, error: str | None
    ) -> tuple[Tokens, str, str]:
        if error:
            raise ConnectFailed(
                f"X did not authorise the app ({error[:60]}): run `sav-bridge x connect` again"
            )
        if not code:
            raise ConnectFailed(
                "X's redirect holds neither a code nor an error: run `sav-bridge x connect` again"
            )
        try:
            tokens = await self.keeper.client.exchange(
                code, str(pending["verifier"]), str(pending["redirect_uri"])
            )
        except TokenRefused:
            raise ConnectFailed(
                "X refused the code (it is valid 30 seconds, once): run `sav-bridge x connect` again"
            ) from None
        except DeliveryError as exc:
            raise ConnectFailed(
                f"X's token endpoint failed ({exc.detail}): run `sav-bridge x connect` again"
            ) from None
        try:
            user_id, username = await self.whoami(str(tokens.access_token))
        except DeliveryError as exc:
            raise ConnectFailed(
                f"X did not say which account approved the app ({exc.detail}); nothing was stored: "
                "run `sav-bridge x connect` again"
            ) from None
        if user_id != self.account_id:
            brand = f"@{self.screen_name}" if self.screen_name else "the brand account"
            raise ConnectFailed(
                f"the app was approved by @{username} (id {user_id}), not by the brand account "
                f"{brand} (x.account_id {self.account_id}); nothing was stored: sign in to X as {brand} "
                "and run `sav-bridge x connect` again"
            )
        return tokens, user_id, username

    async def _settle(self, pending: dict[str, object], **outcome: object) -> None:
        """Keep the outcome with the pending authorisation (never usable again) for `x connect` to read."""
        await self.store.secrets.put(PENDING_NAME, self.keeper.vault.seal({**pending, **outcome}), 0)

    async def outcome(self, state: str) -> tuple[bool, str | None]:
        """(done, why it failed) of the authorisation `state`; `ConnectFailed` once it cannot finish."""
        pending = await self._pending(expired_too=True)
        if pending is None or pending.get("state") != state:
            raise ConnectFailed(
                "this authorisation was replaced by a newer `sav-bridge x connect`, or the tokens "
                "cannot be read with this secrets_key"
            )
        failed = pending.get("failed")
        return bool(pending.get("done")), str(failed) if failed else None

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
    from sav_bridge.egress import outbound_client
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
        async with outbound_client(
            settings, transport, timeout=settings.x.timeout_seconds, headers={"User-Agent": USER_AGENT}
        ) as http:
            keeper = token_keeper(settings, store, http)
            gate = AccessGate(store, Metrics(), FIX_OAUTH2)
            connector = connector_for(settings, store, keeper, gate, http)
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
        f"X is connected as the brand account (id {settings.x.account_id}): tokens stored encrypted; "
        f"refreshed automatically (current one until {until}).\n"
    )
    return 0


def connector_for(
    settings: Settings, store: Store, keeper: TokenKeeper, gate: AccessGate | None, http: httpx.AsyncClient
) -> Connector:
    """The connector for the brand account `settings.x` names."""
    x = settings.x
    whoami = users_me(http, x.api_url)
    return Connector(store, keeper, gate, x.account_id, (x.screen_name or "").lstrip("@"), whoami)


async def _wait(
    connector: Connector,
    keeper: TokenKeeper,
    state: str,
    seconds: float,
    sleep: Callable[[float], Awaitable[None]],
) -> Tokens:
    deadline = time.monotonic() + seconds
    while True:
        done, failed = await connector.outcome(state)
        if failed:
            raise ConnectFailed(failed)
        if done:
            break
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
