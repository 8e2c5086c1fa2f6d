"""X's webhooks and the subscriptions that feed them, as `x provision` and `x status` meet them.

- `POST /2/webhooks` registers a URL (HTTPS, no port, unique, one webhook per app on pay-per-use) and
  runs the CRC against it at once: the fake calls the gateway's `GET …?crc_token=` through `gateway`
  (the app's ASGI transport) and checks the answer with the app's consumer secret;
- `GET /2/webhooks`, `PUT /2/webhooks/{id}` (re-runs the CRC, re-enables), `DELETE /2/webhooks/{id}`;
- Account Activity: `POST|GET /2/account_activity/webhooks/{id}/subscriptions/all` (user context),
  `GET …/subscriptions/all/list` and `DELETE …/subscriptions/{user_id}/all` (app-only);
- X Activity API: `POST|GET /2/activity/subscriptions`, `DELETE /2/activity/subscriptions/{id}`.

Webhook management is app-only (bearer token), as X's docs say; a refusal names X's failure reason
(`CrcValidationFailed`, `UrlValidationFailed`, `DuplicateUrlFailed`, `WebhookLimitExceeded`,
`WebhookIdInvalid`) in the problem's detail.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from sav_bridge.channels.x.signing import crc_response
from sav_bridge.config import same_secret
from sav_bridge.sandbox.x.base import FakeXBase

#: Pay-per-use: one webhook and three Account Activity subscriptions per app (vendor CONTRACTS §1.3);
#: 1,500 X Activity API subscriptions on self-serve tiers (x/docs/x-api_activity_introduction.mdx).
WEBHOOK_LIMIT = 1
AAA_LIMIT = 3
ACTIVITY_LIMIT = 1500
#: Paths only the app's bearer token may call.
APP_ONLY = (
    re.compile(r"/2/webhooks(/[^/]+)?"),
    re.compile(r"/2/account_activity/webhooks/[^/]+/subscriptions/all/list"),
    re.compile(r"/2/account_activity/webhooks/[^/]+/subscriptions/[^/]+/all"),
    re.compile(r"/2/account_activity/subscriptions/count"),
    re.compile(r"/2/activity/subscriptions/[^/]+"),
)
#: Paths either the app or the user may call.
EITHER = (re.compile(r"/2/activity/subscriptions"),)


@dataclass
class Webhook:
    id: str
    url: str
    valid: bool
    created_at: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "valid": self.valid, "created_at": self.created_at}


class Webhooks(FakeXBase):
    #: The app's consumer secret (CRC key) and bearer token; `Sandbox` sets them from the settings.
    consumer_secret = ""
    bearer_token = ""
    #: How X reaches the gateway for the CRC check (`Sandbox.reach_gateway`).
    gateway: httpx.AsyncBaseTransport | None = None
    webhook_limit = WEBHOOK_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.webhooks: dict[str, Webhook] = {}
        self.aaa: dict[str, list[str]] = {}
        self.activity: dict[str, dict[str, Any]] = {}
        self.crc_checks: list[tuple[str, bool]] = []

    # -- authentication ------------------------------------------------------------------------
    def authorised(self, request: httpx.Request) -> bool:
        path = request.url.path
        app = (
            bool(self.bearer_token) and request.headers.get("authorization") == f"Bearer {self.bearer_token}"
        )
        if any(rx.fullmatch(path) for rx in APP_ONLY):
            return app
        if any(rx.fullmatch(path) for rx in EITHER):
            return app or super().authorised(request)
        return super().authorised(request)

    # -- the CRC -------------------------------------------------------------------------------
    async def crc(self, webhook: Webhook) -> bool:
        """X's challenge: GET the webhook URL with a fresh `crc_token`; valid when the answer is a 2xx JSON
        body whose `response_token` is the token signed with the app's consumer secret."""
        token = secrets.token_urlsafe(24)
        ok = False
        if self.gateway is not None:
            async with httpx.AsyncClient(transport=self.gateway, timeout=10) as client:
                try:
                    answer = await client.get(webhook.url, params={"crc_token": token})
                    body = answer.json() if answer.is_success else None
                except (httpx.HTTPError, ValueError):
                    body = None
            expected = crc_response(self.consumer_secret, token)["response_token"]
            ok = isinstance(body, dict) and same_secret(str(body.get("response_token")), expected)
        self.crc_checks.append((webhook.id, ok))
        webhook.valid = ok
        return ok

    def invalidate(self, webhook_id: str) -> None:
        """What X does after a failed periodic CRC: the webhook stays registered, marked invalid."""
        self.webhooks[webhook_id].valid = False

    def _refuse(self, reason: str, detail: str, status: int = 400) -> httpx.Response:
        kind = "resource-not-found" if reason == "WebhookIdInvalid" else "invalid-request"
        return self.problem(status, kind, f"{reason}: {detail}")

    # -- webhooks ------------------------------------------------------------------------------
    async def _create_webhook(
        self, request: httpx.Request, match: re.Match[str], body: Any
    ) -> httpx.Response:
        url = str(body.get("url", ""))
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.port is not None:
            return self._refuse("UrlValidationFailed", "the URL must be https, with a host and no port")
        if any(w.url == url for w in self.webhooks.values()):
            return self._refuse("DuplicateUrlFailed", "a webhook is already registered for this URL")
        if len(self.webhooks) >= self.webhook_limit:
            return self._refuse(
                "WebhookLimitExceeded", f"this app may register {self.webhook_limit} webhook(s)"
            )
        created = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        webhook = Webhook(self.next_id(), url, False, created)
        if not await self.crc(webhook):
            return self._refuse("CrcValidationFailed", "the URL did not answer the CRC check correctly")
        self.webhooks[webhook.id] = webhook
        return httpx.Response(200, json={"data": webhook.as_json()})

    def _list_webhooks(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        data = [w.as_json() for w in self.webhooks.values()]
        return httpx.Response(200, json={"data": data, "meta": {"result_count": len(data)}})

    async def _validate_webhook(
        self, request: httpx.Request, match: re.Match[str], body: Any
    ) -> httpx.Response:
        webhook = self.webhooks.get(match["webhook"])
        if webhook is None:
            return self._refuse("WebhookIdInvalid", "no webhook of this app has this id", 404)
        if not await self.crc(webhook):
            return self._refuse("CrcValidationFailed", "the URL did not answer the CRC check correctly")
        return httpx.Response(200, json={"data": {"valid": True}})

    def _delete_webhook(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        if self.webhooks.pop(match["webhook"], None) is None:
            return self._refuse("WebhookIdInvalid", "no webhook of this app has this id", 404)
        self.aaa.pop(match["webhook"], None)
        return httpx.Response(200, json={"data": {"deleted": True}})

    # -- Account Activity subscriptions ----------------------------------------------------------
    def _aaa_subscribe(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        if match["webhook"] not in self.webhooks:
            return self._refuse("WebhookIdInvalid", "no webhook of this app has this id", 404)
        users = self.aaa.setdefault(match["webhook"], [])
        if self.account_id in users:
            return self.problem(409, "invalid-request", "DuplicateSubscriptionFailed: already subscribed")
        if sum(len(u) for u in self.aaa.values()) >= AAA_LIMIT:
            return self.problem(400, "invalid-request", "SubscriptionLimitExceeded: no subscription left")
        users.append(self.account_id)
        return httpx.Response(200, json={"data": {"subscribed": True}})

    def _aaa_check(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        subscribed = self.account_id in self.aaa.get(match["webhook"], [])
        return httpx.Response(200, json={"data": {"subscribed": subscribed}})

    def _aaa_list(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        webhook = self.webhooks.get(match["webhook"])
        if webhook is None:
            return self._refuse("WebhookIdInvalid", "no webhook of this app has this id", 404)
        users = [{"user_id": u} for u in self.aaa.get(webhook.id, [])]
        data = {
            "application_id": "1",
            "webhook_id": webhook.id,
            "webhook_url": webhook.url,
            "subscriptions": users,
        }
        return httpx.Response(200, json={"data": data})

    def _aaa_unsubscribe(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        users = self.aaa.get(match["webhook"], [])
        if match["user"] in users:
            users.remove(match["user"])
        return httpx.Response(200, json={"data": {"subscribed": False}})

    # -- X Activity API subscriptions --------------------------------------------------------------
    def _activity_subscribe(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        webhook_id = body.get("webhook_id")
        if webhook_id is not None and webhook_id not in self.webhooks:
            return self._refuse("WebhookIdInvalid", "no webhook of this app has this id", 404)
        if len(self.activity) >= ACTIVITY_LIMIT:
            return self.problem(400, "invalid-request", "SubscriptionLimitExceeded: no subscription left")
        now = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        subscription = {
            "subscription_id": self.next_id(),
            "event_type": body["event_type"],
            "filter": dict(body.get("filter") or {}),
            "created_at": now,
            "updated_at": now,
            **({"webhook_id": webhook_id} if webhook_id else {}),
            **({"tag": body["tag"]} if body.get("tag") else {}),
        }
        self.activity[subscription["subscription_id"]] = subscription
        return httpx.Response(200, json={"data": {"subscription": subscription}})

    def _activity_list(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        data = list(self.activity.values())
        return httpx.Response(200, json={"data": data, "meta": {"result_count": len(data)}})

    def _activity_delete(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        deleted = self.activity.pop(match["subscription"], None) is not None
        return httpx.Response(200, json={"data": {"deleted": deleted}})
