"""`sav-bridge x provision`: register the gateway's webhook with X and subscribe the brand account to it.

Steps, each printed, each a no-op when already done (a second run changes nothing and says so):

1. `GET /2/webhooks` (app bearer token): a webhook at `PUBLIC_URL/webhooks/x` is reused; one marked
   invalid is re-validated (`PUT /2/webhooks/{id}`, X runs the CRC again); none is registered with
   `POST /2/webhooks`, and X runs the CRC against the gateway before answering.
2. The brand's subscription, by `x.events`:
   - `activity_api` (X Activity API): `GET /2/activity/subscriptions`, then `POST` one subscription per
     event type in `ACTIVITY_EVENTS`, filtered on the brand's user id and delivered to the webhook;
   - `account_activity` (deprecated by X): `GET …/subscriptions/all/list`, then
     `POST /2/account_activity/webhooks/{id}/subscriptions/all` in the brand's user context.

A dry run prints the requests and sends none, not even the GETs. X's refusals become one-line
`ConfigError`s naming what to fix (exit code 2); X unreachable or overloaded is `Unavailable` (3).
Nothing here opens the database, except to read the OAuth 2.0 tokens (`x.auth: oauth2`) when a
subscription needs the brand's user context: OAuth 1.0a needs X's settings only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from sav_bridge.channels.x.client import X_ERRORS
from sav_bridge.config import Settings, XSettings
from sav_bridge.errors import ConfigError, DeliveryError, Unavailable
from sav_bridge.http import failure_kind, json_body, send

WEBHOOK_PATH = "/webhooks/x"
UserAuth = Callable[[], Awaitable[httpx.Auth]]
#: X Activity API event types for the brand's customer care, as X's OpenAPI (2.167) enumerates them.
#: X's docs also describe `post.reply.create`, which the spec's `CreateActivitySubscriptionRequest` does not
#: accept yet: replies that do not @mention the brand reach it only through polling or Account Activity.
ACTIVITY_EVENTS = ("post.mention.create", "dm.received")
TAG = "sav-bridge"

#: X's documented failure reasons (webhooks quickstart), what they mean for the admin, and the key to fix.
REASONS: Mapping[str, tuple[str, str]] = {
    "CrcValidationFailed": (
        "x.consumer_secret",
        "X's CRC check of {url} failed: the gateway must be running there, reachable from the internet, "
        "with this app's consumer secret",
    ),
    "UrlValidationFailed": (
        "--public-url",
        "X refuses {url}: it must be https, without a port, 200 characters at most",
    ),
    "DuplicateUrlFailed": (
        "--public-url",
        "X already has a webhook for {url} that it did not list; run again",
    ),
    "WebhookLimitExceeded": (
        "--public-url",
        "this app already has as many webhooks as X allows ({others}); provision that URL, or delete "
        "the webhook in X's developer console, then run again",
    ),
    "WebhookIdInvalid": ("--public-url", "X no longer knows the webhook of {url}; run again"),
}


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    valid: bool

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Webhook:
        return cls(str(item.get("id", "")), str(item.get("url", "")), item.get("valid") is True)


#: X's CreateWebhooksRequest: `url` of 200 characters at most (CONTRACTS §1.3).
MAX_WEBHOOK_URL = 200


def webhook_url(public_url: str) -> str:
    """Where X posts events: the gateway's public base URL plus `/webhooks/x`. X wants https and no port."""
    base = urlsplit(public_url)
    if base.query or base.fragment:
        raise ConfigError("--public-url", "must be the gateway's base URL, without ?query or #fragment")
    url = public_url.rstrip("/") + WEBHOOK_PATH
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.port is not None:
        raise ConfigError("--public-url", "must be an https URL without a port, as X requires")
    if len(url) > MAX_WEBHOOK_URL:
        raise ConfigError("--public-url", f"makes a webhook URL over X's {MAX_WEBHOOK_URL} characters")
    return url


class BearerAuth(httpx.Auth):
    """X's app-only authentication (`Authorization: Bearer <app token>`)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class XAdmin:
    """The app's view of its webhooks and subscriptions on X (`x provision`, `x status`, the webhook check).

    `app` is the app-only bearer token; `user` gives the brand's user context, needed only to create a
    subscription (X delivers a user's private events only to apps the user authorised), so it is built
    (and for OAuth 2.0 the database opened) only then."""

    def __init__(
        self, http: httpx.AsyncClient, x: XSettings, app: httpx.Auth, user: UserAuth | None = None
    ) -> None:
        self.http = http
        self.api_url = x.api_url.rstrip("/")
        self.account_id = x.account_id
        self.events = x.events
        self.app = app
        self.user = user

    async def call(
        self, method: str, path: str, auth: httpx.Auth, url: str = "", others: str = "", **kwargs: Any
    ) -> Mapping[str, Any]:
        """One request; X's refusals and silences become our errors (see `refusal`)."""
        try:
            response = await send(self.http, X_ERRORS, method, self.api_url + path, auth=auth, **kwargs)
        except DeliveryError as exc:
            raise refusal(exc, url, auth is self.app, others) from exc
        return json_body(response)

    async def webhooks(self) -> list[Webhook]:
        body = await self.call("GET", "/2/webhooks", self.app)
        data = body.get("data")
        return [Webhook.from_json(w) for w in data if isinstance(w, dict)] if isinstance(data, list) else []

    async def find(self, url: str | None) -> Webhook | None:
        """The webhook at `url`; without a URL, the app's only webhook (pay-per-use allows one)."""
        hooks = await self.webhooks()
        if url is None:
            return hooks[0] if len(hooks) == 1 else None
        return next((w for w in hooks if w.url == url), None)

    async def create(self, url: str, others: list[Webhook]) -> Webhook:
        """Register `url`; X runs its CRC against it before answering. `others`: the app's other webhooks,
        named when X refuses one more."""
        listed = ", ".join(w.url for w in others) or "none listed"
        body = await self.call("POST", "/2/webhooks", self.app, url, listed, json={"url": url})
        data = body.get("data")
        if not isinstance(data, dict) or not data.get("id"):
            raise Unavailable("X", "answered the webhook registration without data.id")
        return Webhook.from_json(data)

    async def revalidate(self, hook: Webhook) -> bool:
        body = await self.call("PUT", f"/2/webhooks/{hook.id}", self.app, hook.url)
        data = body.get("data")
        return isinstance(data, dict) and data.get("valid") is True

    async def activity_subscriptions(self, webhook_id: str) -> list[str]:
        """The event types of the brand's X Activity API subscriptions delivered to `webhook_id`."""
        found: list[str] = []
        params: dict[str, Any] = {"max_results": 1000}
        for _ in range(20):
            page = await self.call("GET", "/2/activity/subscriptions", self.app, params=params)
            data = page.get("data")
            for item in data if isinstance(data, list) else []:
                filt = item.get("filter") if isinstance(item, dict) else None
                if (
                    isinstance(filt, dict)
                    and filt.get("user_id") == self.account_id
                    and item.get("webhook_id") == webhook_id
                ):
                    found.append(str(item.get("event_type")))
            meta = page.get("meta")
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not isinstance(token, str) or not token:
                break
            params["pagination_token"] = token
        return found

    async def account_activity_subscribed(self, webhook_id: str) -> bool:
        body = await self.call(
            "GET", f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all/list", self.app
        )
        data = body.get("data")
        users = data.get("subscriptions") if isinstance(data, dict) else None
        return any(isinstance(u, dict) and u.get("user_id") == self.account_id for u in users or [])

    async def _user(self) -> httpx.Auth:
        if self.user is None:
            raise ConfigError("x.auth", "subscribing the brand needs its user credentials (see x.auth)")
        return await self.user()

    async def subscribe_activity(self, webhook_id: str, event_type: str) -> None:
        body = {
            "event_type": event_type,
            "filter": {"user_id": self.account_id},
            "webhook_id": webhook_id,
            "tag": TAG,
        }
        await self.call("POST", "/2/activity/subscriptions", await self._user(), json=body)

    async def subscribe_account_activity(self, webhook_id: str) -> None:
        await self.call(
            "POST",
            f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all",
            await self._user(),
            json={},
        )


def failed(reason: str, url: str, others: str = "") -> ConfigError:
    key, text = REASONS[reason]
    return ConfigError(key, text.format(url=url, others=others) + f" ({reason})")


def refusal(exc: DeliveryError, url: str, app_only: bool, others: str = "") -> ConfigError | Unavailable:
    """What an admin reads when X says no: a documented failure reason, a refused token, or silence."""
    for reason in REASONS:
        if reason in exc.detail:
            return failed(reason, url, others)
    kind = failure_kind(exc)
    if kind == "credentials":
        key = "x.bearer_token" if app_only else "x.auth"
        who = "the app's bearer token" if app_only else "the brand account's credentials"
        return ConfigError(key, f"X refused {who} (HTTP {exc.status}); check it in X's developer console")
    if kind == "unavailable":
        return Unavailable("X", f"not answering normally ({exc.detail[:200]}); try again later")
    return ConfigError("x", f"X refused the request ({exc.detail[:200]})")


async def provision(admin: XAdmin, public_url: str, out: TextIO) -> None:
    """Register the webhook and subscribe the brand; print each step. See the module docstring."""
    url = webhook_url(public_url)
    hooks = await admin.webhooks()
    hook = next((w for w in hooks if w.url == url), None)
    if hook is None:
        hook = await admin.create(url, hooks)
        out.write(f"webhook {hook.id} created -> {url} (X's CRC check passed)\n")
    elif not hook.valid:
        if not await admin.revalidate(hook):
            raise failed("CrcValidationFailed", url)
        out.write(f"webhook {hook.id} re-validated -> {url} (X's CRC check passed)\n")
    else:
        out.write(f"webhook {hook.id} already registered and valid -> {url}\n")
    if admin.events == "account_activity":
        if await admin.account_activity_subscribed(hook.id):
            out.write(f"subscription account activity of user {admin.account_id} already active\n")
        else:
            await admin.subscribe_account_activity(hook.id)
            out.write(f"subscription account activity of user {admin.account_id} created\n")
        return
    existing = await admin.activity_subscriptions(hook.id)
    for event_type in ACTIVITY_EVENTS:
        if event_type in existing:
            out.write(f"subscription {event_type} of user {admin.account_id} already active\n")
        else:
            await admin.subscribe_activity(hook.id, event_type)
            out.write(f"subscription {event_type} of user {admin.account_id} created\n")


def dry_run(x: XSettings, public_url: str, out: TextIO) -> None:
    """Print the requests `provision` makes, with the webhook's id as a placeholder; send nothing."""
    url = webhook_url(public_url)
    api_url, account_id = x.api_url.rstrip("/"), x.account_id
    out.write("dry run: these are the requests provisioning makes; none is sent\n")
    _show(out, "GET", api_url + "/2/webhooks", "app bearer token", None)
    _show(out, "POST", api_url + "/2/webhooks", "app bearer token, unless listed", {"url": url})
    _show(out, "PUT", api_url + "/2/webhooks/{webhook_id}", "app bearer token, if listed as invalid", None)
    if x.events == "account_activity":
        base = api_url + "/2/account_activity/webhooks/{webhook_id}/subscriptions/all"
        _show(out, "GET", base + "/list", "app bearer token", None)
        _show(out, "POST", base, "brand user context, unless subscribed", {})
        return
    _show(out, "GET", api_url + "/2/activity/subscriptions", "app bearer token", None)
    for event_type in ACTIVITY_EVENTS:
        body = {
            "event_type": event_type,
            "filter": {"user_id": account_id},
            "webhook_id": "{webhook_id}",
            "tag": TAG,
        }
        _show(
            out,
            "POST",
            api_url + "/2/activity/subscriptions",
            "brand user context, unless listed",
            body,
        )


def _show(out: TextIO, method: str, url: str, note: str, body: Any) -> None:
    out.write(f"{method} {url}  ({note})\n")
    if body is not None:
        out.write("  " + json.dumps(body, ensure_ascii=False) + "\n")


def admin_for(settings: Settings, http: httpx.AsyncClient, user: UserAuth | None = None) -> XAdmin:
    """An `XAdmin` from the settings; `x.bearer_token` is required."""
    if settings.x.bearer_token is None:
        raise ConfigError("x.bearer_token", "is required to manage the webhook (the app's bearer token)")
    return XAdmin(http, settings.x, BearerAuth(settings.x.bearer_token.reveal()), user)


@asynccontextmanager
async def x_admin(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[XAdmin]:
    """An `XAdmin` on its own HTTP client, whose user context (`x.auth`) is built on first use: for
    OAuth 2.0 the database (its tokens) is opened only then, and closed on exit; OAuth 1.0a opens
    nothing. `transport` replaces the network (tests)."""
    from sav_bridge.channels.x.auth import unpaused_auth, x_access
    from sav_bridge.egress import outbound_client
    from sav_bridge.metrics import Metrics
    from sav_bridge.runtime import USER_AGENT
    from sav_bridge.store import open_store

    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            outbound_client(
                settings, transport, timeout=settings.x.timeout_seconds, headers={"User-Agent": USER_AGENT}
            )
        )

        built: list[httpx.Auth] = []

        async def user() -> httpx.Auth:
            if settings.x.auth != "oauth2":
                return unpaused_auth(settings, http, None)
            if not built:  # one store for every subscription of this run
                store = await open_store(settings.database_url)
                stack.push_async_callback(store.close)
                built.append((await x_access(settings, store, http, Metrics())).auth)
            return built[0]

        yield admin_for(settings, http, user)


async def run_provision(
    settings: Settings,
    public_url: str,
    dry: bool,
    out: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """`sav-bridge x provision`; a dry run builds no client and opens nothing."""
    if settings.x.bearer_token is None:
        raise ConfigError("x.bearer_token", "is required to manage the webhook (the app's bearer token)")
    if dry:
        dry_run(settings.x, public_url, out)
        return 0
    async with x_admin(settings, transport) as admin:
        await provision(admin, public_url, out)
    return 0
