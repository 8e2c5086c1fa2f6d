"""The X channel's health alerts: each one a metric, one log line when it starts, a line in
`sav-bridge x status` and an entry in `/readyz`'s details (readiness itself does not change).

Alerts are read from the store, so that every replica and `x status` agree. Their inputs are named
`store.state` facts that other parts write; the names are defined here:

| fact | value | written by |
|---|---|---|
| `x.webhook.last_event` | `{"at": epoch, …}`: the last body X's webhook delivered | the inbound flow (`facts.LAST_EVENT_FACT`) |
| `x.webhook.status` | `{"id", "url", "valid", "registered", "checked_at"}` | `x provision`, `x status`, the webhook check |
| `x.crc.last` | `{"at": epoch}`: our last answer to X's CRC | `GET /webhooks/x` |
| `x.revoked` | `{"at": epoch, "account_id"}` | the inbound flow, on `user_event` / `oauth.revoke` of the brand |
| `x.paused` | `{"since": epoch, "reason": str}`; deleted once X accepts access again | `access.AccessGate`, after a 401 a refresh did not cure |
| `x.budget.exhausted` | see `billing.EXHAUSTED_FACT` | the billing meter |

The alerts, by metric label (`sav_bridge_x_alert{name}` is 1 while one is on):

- `quiet`: no event for `x.quiet_alert_hours` while the account usually gets some, that is at least
  `USUAL_EVENTS` events in the 7 days before the last one (the events table, plus `x.event.last`);
- `webhook_invalid`: X says the webhook is invalid (a CRC failed) or has none registered;
- `revoked`: the brand revoked the app; clears when a message arrives after it;
- `not_connected` (`x.auth: oauth2`): no grant is stored (`x connect` never ran) or it cannot be
  decrypted with `secrets_key`; `token_expiring` and `token_refused` follow from it and are not raised;
- `token_expiring` (`x.auth: oauth2`): the stored access token (`tokens.SECRET_NAME`, its row's
  `expires_at`) expires within half of `x.refresh_margin_seconds` (`token_warn_seconds`); the health
  task refreshes it before it comes within the margin (a `Probe`), so this means the refresh fails;
- `token_refused`: X refuses the brand's credentials;
- `budget_exhausted`: polling stopped by `x.budget`. The billing meter logs its one line and has the
  alert evaluated at once (`Health.check`), so `/readyz` shows it with the gauge.

`serve` never fails for the webhook check: it is skipped, with one warning, when `public_url` is not an
address X accepts for a webhook, and in sandbox mode (the X fake holds no webhook, and `x provision`
refuses to run there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from sav_bridge.channels.x.access import PAUSE_NAME
from sav_bridge.channels.x.events import CHANNEL
from sav_bridge.channels.x.facts import EXHAUSTED_FACT, LAST_EVENT_FACT
from sav_bridge.channels.x.provision import BearerAuth, Webhook, XAdmin, webhook_url
from sav_bridge.channels.x.tokens import SECRET_NAME, grant_problem
from sav_bridge.channels.x.vault import Vault
from sav_bridge.config import Settings, XSettings
from sav_bridge.errors import ConfigError
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store

log = logging.getLogger(__name__)

WEBHOOK_FACT = "x.webhook.status"
CRC_FACT = "x.crc.last"
REVOKED_FACT = "x.revoked"
#: The sealed OAuth 2.0 grant, whose row says when its access token expires.
TOKEN_SECRET = SECRET_NAME
#: X refused the brand's credentials and the X destination is paused.
TOKEN_REFUSED_FACT = PAUSE_NAME

ALERTS = (
    "quiet",
    "webhook_invalid",
    "revoked",
    "not_connected",
    "token_expiring",
    "token_refused",
    "budget_exhausted",
)
#: Alerts whose cause logs its own error line when it starts (`billing.Meter`): no second line here.
LOGGED_BY_CAUSE = frozenset({"budget_exhausted"})
#: "Usually gets some": at least this many events in the week before the last one (one a day).
USUAL_EVENTS = 7
USUAL_WINDOW = 7 * 24 * 3600.0
CHECK_SECONDS = 60.0
WEBHOOK_CHECK_SECONDS = 30 * 60.0


@dataclass(frozen=True)
class Alert:
    name: str
    #: One line for a person: what is wrong and what fixes it.
    message: str
    #: When the condition started (epoch seconds), when known.
    since: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message, "since": iso(self.since)}


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fact_time(fact: Any, key: str = "at") -> float | None:
    value = fact.get(key) if isinstance(fact, dict) else fact
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Activity:
    #: The last message stored (webhook or polling), from the events table.
    last_message: float | None
    #: The last body X's webhook delivered, whatever it held (likes, typing indicators, echoes...).
    last_delivery: float | None
    #: Messages stored in the `USUAL_WINDOW` before `last_message`.
    usual: int

    @property
    def last(self) -> float | None:
        times = [t for t in (self.last_message, self.last_delivery) if t is not None]
        return max(times) if times else None


async def activity(store: Store) -> Activity:
    last_message, usual = await store.event_activity(CHANNEL, USUAL_WINDOW)
    return Activity(last_message, fact_time(await store.state.get(LAST_EVENT_FACT)), usual)


def vault(settings: Settings) -> Vault | None:
    """What opens the stored OAuth 2.0 grant (None without `secrets_key`)."""
    return Vault(settings.secrets_key) if settings.secrets_key is not None else None


async def evaluate(store: Store, x: XSettings, now: float, vault: Vault | None = None) -> list[Alert]:
    """The alerts on at `now`, in `ALERTS` order; reads the store only. `vault` (OAuth 2.0) tells
    whether the stored grant can be decrypted; without it, `not_connected` only sees a missing one."""
    alerts: list[Alert] = []
    seen = await activity(store)
    last, usual = seen.last, seen.usual
    quiet_seconds = x.quiet_alert_hours * 3600
    if last is not None and now - last >= quiet_seconds and usual >= USUAL_EVENTS:
        alerts.append(
            Alert(
                "quiet",
                f"no X event since {iso(last)} ({(now - last) / 3600:.0f} h) although the account had "
                f"{usual} in the week before; run `sav-bridge x status` to check the webhook and subscriptions",
                last + quiet_seconds,
            )
        )
    webhook = await store.state.get(WEBHOOK_FACT)
    if isinstance(webhook, dict) and not webhook.get("registered", True):
        alerts.append(
            Alert(
                "webhook_invalid",
                "X has no webhook registered for this gateway; run `sav-bridge x provision`",
                fact_time(webhook, "checked_at"),
            )
        )
    elif isinstance(webhook, dict) and webhook.get("valid") is False:
        alerts.append(
            Alert(
                "webhook_invalid",
                f"X marks webhook {webhook.get('id')} invalid (a CRC check failed) and sends no events; check "
                "x.consumer_secret and that the URL reaches the gateway, then run `sav-bridge x provision`",
                fact_time(webhook, "checked_at"),
            )
        )
    revoked = await store.state.get(REVOKED_FACT)
    revoked_at = fact_time(revoked)
    # The body carrying the revocation is itself a delivery: only a message after it says access is back.
    if revoked_at is not None and (seen.last_message is None or seen.last_message <= revoked_at):
        alerts.append(
            Alert(
                "revoked",
                "the brand account revoked this app's access on X; authorise it again "
                "(`sav-bridge x connect` for OAuth 2.0, new tokens for OAuth 1.0a), then `sav-bridge x provision`",
                revoked_at,
            )
        )
    grant = await store.secrets.get(TOKEN_SECRET) if x.auth == "oauth2" else None
    problem = await grant_problem(store, vault) if x.auth == "oauth2" else None
    if problem is not None and (grant is None or vault is not None):
        alerts.append(Alert("not_connected", f"X {problem}", None))
        return alerts + await _budget(store)
    expires = grant.expires_at if grant is not None else None
    warn = token_warn_seconds(x)
    if expires is not None and expires - now <= warn:
        state = "expired" if expires <= now else "expires"
        alerts.append(
            Alert(
                "token_expiring",
                f"the X access token {state} at {iso(expires)} and was not refreshed; check the logs for "
                "the refresh error, or run `sav-bridge x connect`",
                expires - warn,
            )
        )
    refused = await store.state.get(TOKEN_REFUSED_FACT)
    if refused is not None:
        detail = refused.get("reason") if isinstance(refused, dict) else None
        alerts.append(
            Alert(
                "token_refused",
                f"X refuses the brand's credentials{f' ({detail})' if detail else ''}; replies wait: fix "
                "x.auth's keys or run `sav-bridge x connect`",
                fact_time(refused, "since"),
            )
        )
    return alerts + await _budget(store)


async def _budget(store: Store) -> list[Alert]:
    exhausted = await store.state.get(EXHAUSTED_FACT)
    if not isinstance(exhausted, dict):
        return []
    message = (
        f"X budget reached ({exhausted.get('reached')}): polling stopped until next month or a "
        "higher x.budget; replies still post"
    )
    return [Alert("budget_exhausted", message, fact_time(exhausted))]


def token_warn_seconds(x: XSettings) -> float:
    """How close to expiry the access token alerts: half the refresh margin. The health task refreshes
    it before it comes within the margin, so a token this close to expiry is one whose refresh failed."""
    return x.refresh_margin_seconds / 2


async def observe_webhook(admin: XAdmin, store: Store, url: str | None, now: float) -> Webhook | None:
    """Ask X for the webhook at `url` (without one: the app's only webhook) and record what it says in
    `WEBHOOK_FACT`, for the alerts; the webhook, or None when X has none registered."""
    hook = await admin.find(url)
    fact: dict[str, Any] = {"registered": hook is not None, "checked_at": now, "url": url}
    if hook is not None:
        fact.update(id=hook.id, url=hook.url, valid=hook.valid)
    await store.state.put(WEBHOOK_FACT, fact)
    return hook


@dataclass(frozen=True)
class Probe:
    """Something the health task refreshes before it evaluates, every `every` seconds: X's view of the
    webhook (`webhook_probe`), the OAuth 2.0 access token kept fresh ahead of its expiry."""

    name: str
    every: float
    run: Callable[[], Awaitable[None]]


def health_probes(
    settings: Settings,
    store: Store,
    http: httpx.AsyncClient,
    token: Callable[[float], Awaitable[object]] | None = None,
) -> list[Probe]:
    """The runtime's probes: X's view of the webhook when `x.bearer_token` is set and events come by
    webhook; the OAuth 2.0 access token (`token`: `XAccess.keep_fresh`, which refreshes it when it would
    come within `x.refresh_margin_seconds` of expiry before the next round, and does nothing while X's
    access is paused), so that a quiet gateway does not let it lapse."""
    probes: list[Probe] = []
    x = settings.x
    problem = webhook_problem(settings)
    if problem is not None:
        log.warning("X webhook check skipped: %s", problem)
    elif x.bearer_token is not None and x.mode != "polling" and not settings.sandbox:
        admin = XAdmin(http, x, BearerAuth(x.bearer_token.reveal()))
        url = webhook_url(settings.public_url) if settings.public_url else None

        async def webhook() -> None:
            await observe_webhook(admin, store, url, store.clock())

        probes.append(Probe("webhook check", WEBHOOK_CHECK_SECONDS, webhook))
    if token is not None:

        async def fresh() -> None:
            await token(CHECK_SECONDS)

        probes.append(Probe("token refresh", CHECK_SECONDS, fresh))
    return probes


def webhook_problem(settings: Settings) -> str | None:
    """Why the webhook check cannot run although it should (`x.bearer_token`, webhook mode): a
    `public_url` X would refuse for a webhook. Said by `serve` (a warning) and `check`."""
    x = settings.x
    if x.bearer_token is None or x.mode == "polling" or settings.sandbox or not settings.public_url:
        return None
    try:
        webhook_url(settings.public_url)
    except ConfigError as exc:
        return (
            f"public_url {exc.problem} (X refuses any other webhook address): set it to the gateway's address"
        )
    return None


class Health:
    """Evaluates the alerts every `CHECK_SECONDS` after running the probes that are due; keeps the last
    result for `/readyz`. Logs one line when an alert starts and one when it clears, per replica."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        x: XSettings,
        clock: Callable[[], float],
        probes: Sequence[Probe] = (),
        vault: Vault | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.x = x
        self.clock = clock
        self.probes = list(probes)
        self.vault = vault
        # The periodic task and the billing meter may both check at once: one evaluation at a time, so
        # that an alert starting is logged once.
        self._checking = asyncio.Lock()
        self.active: dict[str, Alert] = {}
        self._ran: dict[str, float] = {}
        self._failing: dict[str, str] = {}
        for name in ALERTS:
            metrics.x_alert.labels(name).set(0)

    async def check(self) -> list[Alert]:
        """Evaluate now; log one line per alert that starts and per alert that clears."""
        async with self._checking:
            return await self._check()

    async def _check(self) -> list[Alert]:
        alerts = await evaluate(self.store, self.x, self.clock(), self.vault)
        current = {alert.name: alert for alert in alerts}
        for name, alert in current.items():
            if name not in self.active and name not in LOGGED_BY_CAUSE:
                log.error("X alert %s: %s", name, alert.message)
        for name in self.active.keys() - current.keys():
            log.info("X alert %s cleared", name)
        for name in ALERTS:
            self.metrics.x_alert.labels(name).set(1 if name in current else 0)
        self.active = current
        return alerts

    async def tick(self) -> list[Alert]:
        """One round of the periodic task: the probes that are due, then the alerts."""
        for probe in self.probes:
            now = self.clock()
            if now - self._ran.get(probe.name, -math.inf) < probe.every:
                continue
            self._ran[probe.name] = now
            try:
                await probe.run()
            except Exception as exc:  # the alerts still run on what is known; say it once, not every minute
                why = f"{type(exc).__name__}: {exc}"
                if self._failing.get(probe.name) != why:
                    log.warning("X health: %s failed: %s", probe.name, why)
                self._failing[probe.name] = why
            else:
                self._failing.pop(probe.name, None)
        return await self.check()

    async def run(self, stop: asyncio.Event, interval: float = CHECK_SECONDS) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("X health check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
