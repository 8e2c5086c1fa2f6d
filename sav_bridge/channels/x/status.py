"""`sav-bridge x status`: is X sending the brand's events here, and what does it cost?

It asks X (app bearer token) for the webhook's validity and the brand's subscriptions, and reads the
store for the last event received, the last CRC answered, the OAuth 2.0 token's expiry, this month's
billed requests and the active alerts (`health`). What X says about the webhook is recorded, so the
alerts and `/readyz` agree with what was printed. Text for people, `--json` for scripts.

Exit code: 0 when everything could be read (alerts or not); 2 when X refuses the bearer token or it is
not set; 3 when X cannot be reached. The store's part is printed whatever X does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from sav_bridge.channels.x.connect import ACCOUNT_FACT
from sav_bridge.channels.x.health import (
    CRC_FACT,
    TOKEN_SECRET,
    Alert,
    activity,
    evaluate,
    fact_time,
    iso,
    observe_webhook,
    vault,
)
from sav_bridge.channels.x.provision import ACTIVITY_EVENTS, XAdmin, webhook_url, x_admin
from sav_bridge.channels.x.tokens import grant_problem
from sav_bridge.config import Settings
from sav_bridge.errors import ConfigError, Unavailable
from sav_bridge.store import Store

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3
MICROS = 1_000_000


@dataclass
class Status:
    events: str
    account_id: str
    webhook: dict[str, Any] | None = None
    subscriptions: list[str] = field(default_factory=list)
    x_error: str | None = None
    x_exit: int = EXIT_OK
    last_event_at: float | None = None
    last_crc_at: float | None = None
    token: dict[str, Any] = field(default_factory=dict)
    month: dict[str, Any] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "account_id": self.account_id,
            "webhook": self.webhook,
            "subscriptions": self.subscriptions,
            "x_error": self.x_error,
            "last_event_at": iso(self.last_event_at),
            "last_crc_at": iso(self.last_crc_at),
            "token": self.token,
            "month": self.month,
            "alerts": [a.as_json() for a in self.alerts],
        }


async def collect(settings: Settings, store: Store, admin: XAdmin | None, now: float) -> Status:
    """Everything `x status` shows; X's part is skipped (and said so) when `admin` is None."""
    status = Status(settings.x.events, settings.x.account_id)
    if admin is None:
        status.x_error, status.x_exit = "x.bearer_token is not set: X was not asked", EXIT_CONFIG
    else:
        try:
            await _ask_x(status, admin, store, settings.public_url, now)
        except (ConfigError, Unavailable) as exc:
            status.x_error = str(exc)
            status.x_exit = EXIT_UNAVAILABLE if isinstance(exc, Unavailable) else EXIT_CONFIG
    status.last_event_at = (await activity(store)).last
    status.last_crc_at = fact_time(await store.state.get(CRC_FACT))
    status.token = await _token(settings, store)
    rows = await store.usage.month()
    status.month = {
        "month": store.usage.today()[:7],
        "requests": sum(r["requests"] for r in rows.values()),
        "spend": sum(r["cost_micros"] for r in rows.values()) / MICROS,
        "by_kind": {kind: r["requests"] for kind, r in sorted(rows.items())},
    }
    status.alerts = await evaluate(store, settings.x, now, vault(settings))
    return status


async def _ask_x(status: Status, admin: XAdmin, store: Store, public_url: str | None, now: float) -> None:
    url = webhook_url(public_url) if public_url else None
    hook = await observe_webhook(admin, store, url, now)
    if hook is None:
        return
    status.webhook = {"id": hook.id, "url": hook.url, "valid": hook.valid}
    if admin.events == "account_activity":
        subscribed = await admin.account_activity_subscribed(hook.id)
        status.subscriptions = ["account_activity"] if subscribed else []
    else:
        found = await admin.activity_subscriptions(hook.id)
        status.subscriptions = [e for e in ACTIVITY_EVENTS if e in found] + sorted(
            set(found) - set(ACTIVITY_EVENTS)
        )


async def _token(settings: Settings, store: Store) -> dict[str, Any]:
    if settings.x.auth != "oauth2":
        return {
            "auth": settings.x.auth,
            "expires_at": None,
            "note": "static credentials (they do not expire)",
        }
    problem = await grant_problem(store, vault(settings))
    if problem is not None:
        return {"auth": "oauth2", "account": None, "expires_at": None, "note": problem}
    grant = await store.secrets.get(TOKEN_SECRET)
    expires = grant.expires_at if grant is not None else None
    account = await store.state.get(ACCOUNT_FACT)
    return {
        "auth": "oauth2",
        "account": account if isinstance(account, dict) else None,
        "expires_at": iso(expires) if expires else None,
        "note": "refreshed by the gateway before it expires",
    }


def render(status: Status, now: float) -> str:
    lines: list[str] = []
    if status.x_error:
        lines.append(f"webhook: unknown ({status.x_error})")
    elif status.webhook is None:
        lines.append("webhook: none registered with X; run `sav-bridge x provision --public-url URL`")
    else:
        hook = status.webhook
        state = "valid" if hook["valid"] else "INVALID (X sends no events; run `sav-bridge x provision`)"
        lines.append(f"webhook: {hook['id']} {hook['url']} {state}")
    if not status.x_error and status.webhook is not None:
        kind = "Account Activity" if status.events == "account_activity" else "X Activity API"
        wanted = ["account_activity"] if status.events == "account_activity" else list(ACTIVITY_EVENTS)
        missing = [e for e in wanted if e not in status.subscriptions]
        listed = ", ".join(status.subscriptions) or "none"
        gap = f"; missing {', '.join(missing)}: run `sav-bridge x provision`" if missing else ""
        lines.append(f"subscriptions ({kind}, user {status.account_id}): {listed}{gap}")
    lines.append(f"last event received: {_when(status.last_event_at, now)}")
    lines.append(f"last CRC check answered: {_when(status.last_crc_at, now)}")
    token = status.token
    expires, account = token.get("expires_at"), token.get("account")
    who = f"account @{account.get('username')} (id {account.get('id')}), " if account else ""
    lines.append(
        f"token: {token.get('auth')}, {who}{f'expires {expires}, ' if expires else ''}{token.get('note')}"
    )
    month = status.month
    lines.append(
        f"spend this month ({month.get('month')}): {month.get('requests', 0)} billed requests, "
        f"${month.get('spend', 0):.2f}"
    )
    if not status.alerts:
        lines.append("alerts: none")
    else:
        lines.append(f"alerts: {len(status.alerts)}")
        lines += [f"  ALERT {a.name}: {a.message}" for a in status.alerts]
    return "\n".join(lines) + "\n"


def _when(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "never"
    ago = max(0.0, now - epoch)
    span = f"{ago / 3600:.1f} h" if ago >= 3600 else f"{ago / 60:.0f} min"
    return f"{iso(epoch)} ({span} ago)"


def write(status: Status, as_json: bool, now: float, out: TextIO) -> int:
    """Print the status; return the exit code (see the module docstring)."""
    if as_json:
        out.write(json.dumps(status.as_json(), indent=2) + "\n")
    else:
        out.write(render(status, now))
    return status.x_exit


async def run_status(
    settings: Settings, as_json: bool, out: TextIO, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """`sav-bridge x status`: opens the store, asks X when `x.bearer_token` is set."""
    from sav_bridge.store import open_store

    store = await open_store(settings.database_url)
    try:
        if settings.x.bearer_token is None:
            status = await collect(settings, store, None, store.clock())
        else:
            async with x_admin(settings, transport) as admin:
                status = await collect(settings, store, admin, store.clock())
        return write(status, as_json, store.clock(), out)
    finally:
        await store.close()
