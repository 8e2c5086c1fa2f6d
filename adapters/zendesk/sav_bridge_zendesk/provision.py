"""`sav-bridge zendesk provision`: the webhook and the trigger that rings it, created or updated idempotently."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TextIO

from sav_bridge.config import same_secret
from sav_bridge_zendesk import payloads

Call = Callable[..., Awaitable[Mapping[str, Any]]]


async def provision(call: Call, public_url: str, dry_run: bool, out: TextIO, webhook_secret: str) -> None:
    webhook_body = payloads.webhook(public_url)
    if dry_run:
        _show(out, "GET", "/api/v2/webhooks?filter[name_contains]=" + payloads.WEBHOOK_NAME, None)
        _show(out, "POST or PUT", "/api/v2/webhooks[/{id}]", webhook_body)
        _show(out, "GET", "/api/v2/triggers", None)
        _show(out, "POST or PUT", "/api/v2/triggers[/{id}]", payloads.trigger("{webhook_id}"))
        out.write("dry run: nothing was changed\n")
        return
    found = await call("GET", "/api/v2/webhooks", params={"filter[name_contains]": payloads.WEBHOOK_NAME})
    existing = next((w for w in found.get("webhooks", []) if w.get("name") == payloads.WEBHOOK_NAME), None)
    if existing is None:
        created = await call("POST", "/api/v2/webhooks", json=webhook_body)
        webhook_id = str(created["webhook"]["id"])
        out.write(f"created webhook {webhook_id} -> {webhook_body['webhook']['endpoint']}\n")
    else:
        webhook_id = str(existing["id"])
        await call("PUT", f"/api/v2/webhooks/{webhook_id}", json=webhook_body)
        out.write(f"updated webhook {webhook_id} -> {webhook_body['webhook']['endpoint']}\n")

    secret = await call("GET", f"/api/v2/webhooks/{webhook_id}/signing_secret")
    if same_secret((secret.get("signing_secret") or {}).get("secret"), webhook_secret):
        out.write("zendesk.webhook_secret matches the webhook's signing secret\n")
    else:
        out.write(
            "ACTION NEEDED: set SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET to this webhook's signing secret "
            "(Admin Center > Apps and integrations > Webhooks > sav-bridge > Reveal secret), then restart\n"
        )

    trigger_body = payloads.trigger(webhook_id)
    triggers = await call("GET", "/api/v2/triggers")
    same = next((t for t in triggers.get("triggers", []) if t.get("title") == payloads.TRIGGER_TITLE), None)
    if same is None:
        created = await call("POST", "/api/v2/triggers", json=trigger_body)
        out.write(f"created trigger {created['trigger']['id']} ({payloads.TRIGGER_TITLE!r})\n")
    else:
        await call("PUT", f"/api/v2/triggers/{same['id']}", json=trigger_body)
        out.write(f"updated trigger {same['id']} ({payloads.TRIGGER_TITLE!r})\n")


def _show(out: TextIO, method: str, path: str, body: Any) -> None:
    out.write(f"{method} {path}\n")
    if body is not None:
        out.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
