"""A fake Zendesk Support account: users, tickets, comments, webhooks and triggers.

Bodies are checked against Zendesk's OAS (and the third-party Webhooks API document). It behaves as
the vendor does where our gateway depends on it: `Idempotency-Key` replays on ticket creation,
`external_id` search, closed tickets refusing updates (422), comments with sideloaded authors and
cursor pagination, 429 with `Retry-After` via injected faults or the account's own limit (`rate_limit`). Files: `POST /api/v2/uploads?filename=`
takes the raw bytes and answers a token; a comment naming tokens in `uploads` gets their `attachments`,
whose `content_url` serves the bytes to an authenticated request only (private attachments). Care's
calls: the ticket PUT sets `priority`, `group_id`, `brand_id`, `assignee_id`/`assignee_email` and merges
`custom_fields` by id, refusing (422) a group, brand, agent or field the account lacks; its `tags`
REPLACE the ticket's and its `additional_tags` are ignored (Zendesk honours them on `update_many` only),
while `PUT /tickets/{id}/tags` adds; `users/search?external_id=` and `users/{id}/tickets/requested`
(sorted, `per_page`) answer the history.

The core's `Sandbox` finds it through the entry point `zendesk` in group `sav_bridge.sandboxes` and
builds it with `FakeZendesk.from_settings`; it names its own specs in the vendor folder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sav_bridge.config import BaseSettings, reveal, same_secret
from sav_bridge.sandbox.base import Answer, FakeVendor
from sav_bridge.sandbox.contracts import OpenApiContract
from sav_bridge.sandbox.faults import RateLimit

HOST_PATTERN = re.compile(r"https?://[^/]+")
#: Zendesk's own documents in the vendor folder: the Support API, and the Webhooks API (third party).
SUPPORT_SPEC = "zendesk/zendesk-support-oas.yaml"
WEBHOOKS_SPEC = "zendesk/zendesk-webhooks-api.THIRD-PARTY-botbrains.yaml"


def vendor_contracts(vendor_dir: Path | None) -> list[OpenApiContract]:
    """Zendesk's specs, checked against every request the fake receives; none without a vendor folder."""
    if vendor_dir is None:
        return []
    return [
        OpenApiContract.from_vendor(vendor_dir, SUPPORT_SPEC),
        OpenApiContract.from_vendor(vendor_dir, WEBHOOKS_SPEC, prefix="/api/v2"),
    ]


class FakeZendesk(FakeVendor):
    name = "zendesk"

    def __init__(
        self,
        email: str,
        api_token: str,
        webhook_secret: str,
        contracts: list[OpenApiContract] | None = None,
        clock: Callable[[], float] = time.time,
        url: str = "https://sandbox.zendesk.com",
    ) -> None:
        super().__init__(contracts)
        self.base_url = url.rstrip("/")
        self.hosts = (urlsplit(self.base_url).netloc,)
        self.email = email
        self.api_token = api_token
        self.webhook_secret = webhook_secret
        self.clock = clock
        self._ids = itertools.count(1001)
        self.users: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.triggers: dict[int, dict[str, Any]] = {}
        #: Each idempotency key's body digest and first answer (status, bytes): not the response object,
        #: which holds its request too (a long-running sandbox keeps one per ticket created).
        self._idempotency: dict[str, tuple[str, int, bytes]] = {}
        #: Uploads not yet attached, by token; every attachment's bytes, by its id.
        self.uploads: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[int, bytes] = {}
        #: The account's API limit (a plan's requests per minute), None: unlimited. Set by tests.
        self.rate_limit: RateLimit | None = None
        #: What the account has for care's routing: group, brand and ticket field ids.
        self.groups: set[int] = set()
        self.brands: set[int] = set()
        self.ticket_fields: set[int] = set()
        self.me = self.add_user("sav-bridge API", "admin", email)
        for method, pattern, handler in [
            ("GET", r"/api/v2/users/me", self._get_me),
            ("POST", r"/api/v2/users/create_or_update", self._upsert_user),
            ("GET", r"/api/v2/tickets", self._search_tickets),
            ("POST", r"/api/v2/tickets", self._create_ticket),
            ("GET", r"/api/v2/tickets/(?P<id>\d+)", self._get_ticket),
            ("PUT", r"/api/v2/tickets/(?P<id>\d+)", self._update_ticket),
            ("GET", r"/api/v2/tickets/(?P<id>\d+)/tags", self._ticket_tags),
            ("PUT", r"/api/v2/tickets/(?P<id>\d+)/tags", self._add_tags),
            ("POST", r"/api/v2/tickets/(?P<id>\d+)/tags", self._set_tags),
            ("GET", r"/api/v2/users/search", self._search_users),
            ("GET", r"/api/v2/users/(?P<id>\d+)/tickets/requested", self._requested_tickets),
            ("GET", r"/api/v2/tickets/(?P<id>\d+)/comments", self._list_comments),
            ("POST", r"/api/v2/uploads", self._upload),
            ("GET", r"/attachments/token/(?P<token>[^/]+)/", self._attachment_content),
            ("GET", r"/api/v2/webhooks", self._list_webhooks),
            ("POST", r"/api/v2/webhooks", self._create_webhook),
            ("PUT", r"/api/v2/webhooks/(?P<id>[^/]+)", self._update_webhook),
            ("GET", r"/api/v2/webhooks/(?P<id>[^/]+)/signing_secret", self._signing_secret),
            ("GET", r"/api/v2/triggers", self._list_triggers),
            ("POST", r"/api/v2/triggers", self._create_trigger),
            ("PUT", r"/api/v2/triggers/(?P<id>\d+)", self._update_trigger),
        ]:
            self.route(method, pattern, handler)

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, vendor_dir: Path | None, clock: Callable[[], float] = time.time
    ) -> FakeZendesk:
        """The account the `zendesk` section describes, checked against the specs in `vendor_dir`."""
        section = settings.helpdesk_section()
        fake = cls(
            section["email"],
            reveal(section["api_token"]),
            reveal(section["webhook_secret"]),
            vendor_contracts(vendor_dir),
            clock,
            section["url"],
        )
        # The account has what the configuration maps care's names to (an admin made them first).
        fake.groups.update(int(v) for v in (section.get("groups") or {}).values())
        fake.brands.update(int(v) for v in (section.get("brands") or {}).values())
        fake.ticket_fields.update(int(v) for v in (section.get("fields") or {}).values())
        for agent_id in (section.get("assignees") or {}).values():
            fake.users.setdefault(int(agent_id), {"id": int(agent_id), "name": f"Agent {agent_id}", "role": "agent",
                                                  "email": f"agent{agent_id}@example.com", "external_id": None,
                                                  "identities": []})  # fmt: skip
        return fake

    def respond(self, request: httpx.Request) -> Answer:
        """Over the account's rate limit, Zendesk answers 429 with `Retry-After` in seconds (CONTRACTS §2.6)."""
        if self.rate_limit is not None:
            wait = self.rate_limit.retry_after(self.clock())
            if wait is not None:
                self.requests.append(request)
                limit = str(self.rate_limit.limit)
                headers = {"Retry-After": str(wait), "X-Rate-Limit": limit, "X-Rate-Limit-Remaining": "0"}
                return self.error(429, "APIRateLimitExceeded", headers)
        return super().respond(request)

    def authorised(self, request: httpx.Request) -> bool:
        expected = base64.b64encode(f"{self.email}/token:{self.api_token}".encode()).decode()
        return bool(request.headers.get("authorization") == f"Basic {expected}")

    def _now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")

    # -- helpers for tests and the demo ---------------------------------------------------------
    def add_user(self, name: str, role: str = "end-user", email: str | None = None) -> int:
        user_id = next(self._ids)
        self.users[user_id] = {"id": user_id, "name": name, "role": role, "email": email, "external_id": None,
                               "identities": []}  # fmt: skip
        return user_id

    def add_agent(self, name: str, email: str) -> int:
        return self.add_user(name, "agent", email)

    def agent_comment(
        self,
        ticket_id: int | str,
        agent_id: int,
        body: str,
        public: bool = True,
        files: list[tuple[str, str, bytes]] | None = None,
    ) -> int:
        """An agent answers in the Zendesk UI, attaching `files` as (file name, content type, bytes)."""
        tokens = [self.store_upload(name, kind, data) for name, kind, data in files or []]
        return self._add_comment(int(ticket_id), agent_id, body, public, tokens)

    def attachments(self, ticket_id: int | str) -> list[tuple[str, str, bytes]]:
        """Every file on the ticket's comments: (file name, content type, bytes)."""
        return [
            (a["file_name"], a["content_type"], self.files[a["id"]])
            for c in self.comments[int(ticket_id)]
            for a in c["attachments"]
        ]

    def set_status(self, ticket_id: int | str, status: str) -> None:
        self.tickets[int(ticket_id)]["status"] = status

    def add_tag(self, ticket_id: int | str, tag: str) -> None:
        self.tickets[int(ticket_id)]["tags"].append(tag)

    def public_comments(self, ticket_id: int | str) -> list[dict[str, Any]]:
        return [c for c in self.comments[int(ticket_id)] if c["public"]]

    def notes(self, ticket_id: int | str) -> list[str]:
        return [c["body"] for c in self.comments[int(ticket_id)] if not c["public"]]

    def doorbell(
        self, ticket_id: int | str, secret: str | None = None, at: float | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The signed request Zendesk's trigger sends to our webhook."""
        body = json.dumps({"ticket_id": str(ticket_id)}).encode()
        timestamp = datetime.fromtimestamp(self.clock() if at is None else at, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        digest = hmac_sha256(secret or self.webhook_secret, timestamp.encode() + body)
        headers = {
            "content-type": "application/json",
            "x-zendesk-webhook-signature": digest,
            "x-zendesk-webhook-signature-timestamp": timestamp,
            "x-zendesk-webhook-invocation-id": secrets.token_hex(8),
            "x-zendesk-webhook-id": next(iter(self.webhooks), "01FAKEWEBHOOK"),
        }
        return headers, body

    # -- users -----------------------------------------------------------------------------------
    def _get_me(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        return httpx.Response(200, json={"user": self.users[self.me]})

    def _upsert_user(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        data = body["user"]
        external = str(data.get("external_id") or "").lower()
        existing = next(
            (u for u in self.users.values() if external and str(u["external_id"]).lower() == external), None
        )
        status = 200 if existing else 201
        user = existing or self.users[self.add_user(data.get("name", ""), data.get("role", "end-user"))]
        user.update({k: v for k, v in data.items() if k in ("name", "external_id", "email")})
        for identity in data.get("identities", []):
            if identity not in user["identities"]:
                user["identities"].append(identity)
        return httpx.Response(status, json={"user": user})

    # -- tickets ---------------------------------------------------------------------------------
    def _add_comment(
        self, ticket_id: int, author_id: int, body: str, public: bool, uploads: list[str] | None = None
    ) -> int:
        comment_id = next(self._ids)
        attachments = [a for token in uploads or [] for a in self.uploads.pop(token, [])]
        self.comments[ticket_id].append({"id": comment_id, "type": "Comment", "author_id": author_id, "body": body,
                                         "plain_body": body, "public": public, "created_at": self._now(),
                                         "attachments": attachments})  # fmt: skip
        self.tickets[ticket_id]["updated_at"] = self._now()
        return comment_id

    def _search_tickets(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        external = request.url.params.get("external_id")
        found = [t for t in self.tickets.values() if external is None or t["external_id"] == external]
        return httpx.Response(200, json={"tickets": found, "count": len(found)})

    def _create_ticket(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        digest = hashlib.sha256(request.content).hexdigest()
        if key and key in self._idempotency:
            seen_digest, status, content = self._idempotency[key]
            if not same_secret(seen_digest, digest):
                return self.error(400, "IdempotentRequestError: key reused with a different body")
            headers = {"content-type": "application/json", "x-idempotency-lookup": "hit"}
            return httpx.Response(status, content=content, headers=headers)
        data = body["ticket"]
        ticket_id = next(self._ids)
        comment = data.get("comment", {})
        requester = data.get("requester_id") or self.me
        self.tickets[ticket_id] = {
            "id": ticket_id, "subject": data.get("subject"), "status": data.get("status", "new"),
            "tags": list(data.get("tags", [])), "external_id": data.get("external_id"), "requester_id": requester,
            "via_followup_source_id": data.get("via_followup_source_id"), "created_at": self._now(),
            "updated_at": self._now(), "priority": data.get("priority"), "group_id": None, "brand_id": None,
            "assignee_id": None, "custom_fields": [],
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
        }  # fmt: skip
        self.comments[ticket_id] = []
        self._add_comment(
            ticket_id,
            comment.get("author_id") or requester,
            comment.get("body", ""),
            comment.get("public", True),
            comment.get("uploads"),
        )
        response = httpx.Response(201, json={"ticket": self.tickets[ticket_id]},
                                  headers={"location": f"/api/v2/tickets/{ticket_id}.json"})  # fmt: skip
        if key:
            self._idempotency[key] = (digest, response.status_code, response.content)
        return response

    def _get_ticket(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket = self.tickets.get(int(match["id"]))
        if ticket is None:
            return self.error(404, "RecordNotFound")
        return httpx.Response(200, json={"ticket": ticket})

    def _update_ticket(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket = self.tickets.get(int(match["id"]))
        if ticket is None:
            return self.error(404, "RecordNotFound")
        if ticket["status"] == "closed":
            return self.error(422, "RecordInvalid: Status: closed prevents ticket update")
        data = body["ticket"]
        refused = self._routing_refusal(data)
        if refused is not None:
            return refused
        if "comment" in data:
            c = data["comment"]
            self._add_comment(
                ticket["id"],
                c.get("author_id") or self.me,
                c.get("body", ""),
                c.get("public", True),
                c.get("uploads"),
            )
        if "status" in data:
            ticket["status"] = data["status"]
        self._route_ticket(ticket, data)
        ticket["updated_at"] = self._now()
        return httpx.Response(200, json={"ticket": ticket})

    def _agents(self) -> dict[int, dict[str, Any]]:
        return {u["id"]: u for u in self.users.values() if u["role"] in ("agent", "admin")}

    def _routing_refusal(self, data: dict[str, Any]) -> httpx.Response | None:
        """Zendesk's 422 for a group, brand, agent or ticket field the account lacks (nothing is written)."""
        for attribute, known in (("group_id", self.groups), ("brand_id", self.brands)):
            if data.get(attribute) is not None and data[attribute] not in known:
                return self.error(422, f"RecordInvalid: {attribute} {data[attribute]} does not exist")
        agents = self._agents()
        emails = {a["email"] for a in agents.values()}
        if "assignee_email" in data and data["assignee_email"] not in emails:
            return self.error(422, "RecordInvalid: Assignee is not an agent")
        if data.get("assignee_id") is not None and data["assignee_id"] not in agents:
            return self.error(422, "RecordInvalid: Assignee is not an agent")
        unknown = [f["id"] for f in data.get("custom_fields", []) if f["id"] not in self.ticket_fields]
        if unknown:
            return self.error(422, f"RecordInvalid: ticket field {unknown[0]} does not exist")
        return None

    def _route_ticket(self, ticket: dict[str, Any], data: dict[str, Any]) -> None:
        """Priority, group, brand, assignee, custom fields and (replacing) tags of a ticket PUT."""
        if "assignee_email" in data:
            ticket["assignee_id"] = next(
                a["id"] for a in self._agents().values() if a["email"] == data["assignee_email"]
            )
        for attribute in ("priority", "group_id", "brand_id", "assignee_id"):
            if attribute in data:
                ticket[attribute] = data[attribute]
        values = {f["id"]: f["value"] for f in ticket["custom_fields"]}
        values.update({f["id"]: f.get("value") for f in data.get("custom_fields", [])})
        ticket["custom_fields"] = [{"id": k, "value": v} for k, v in values.items()]
        if "tags" in data:  # Zendesk's "set tags": the list replaces the ticket's
            ticket["tags"] = [data["tags"]] if isinstance(data["tags"], str) else list(data["tags"])

    def _ticket_tags(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket = self.tickets.get(int(match["id"]))
        if ticket is None:
            return self.error(404, "RecordNotFound")
        return httpx.Response(200, json={"tags": ticket["tags"]})

    def _add_tags(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        """Add Tags: the tags join the ticket's (a tag already there stays once)."""
        ticket = self.tickets.get(int(match["id"]))
        if ticket is None:
            return self.error(404, "RecordNotFound")
        if ticket["status"] == "closed":
            return self.error(422, "RecordInvalid: Status: closed prevents ticket update")
        tags = (body or {}).get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return self.error(400, "tags must be an array of strings")
        ticket["tags"] += [t for t in dict.fromkeys(tags) if t not in ticket["tags"]]
        ticket["updated_at"] = self._now()
        return httpx.Response(200, json={"tags": ticket["tags"]})

    def _set_tags(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        """Set Tags (POST): the list replaces the ticket's, as the ticket PUT's `tags` does."""
        ticket = self.tickets.get(int(match["id"]))
        if ticket is None:
            return self.error(404, "RecordNotFound")
        ticket["tags"] = list((body or {}).get("tags") or [])
        return httpx.Response(200, json={"tags": ticket["tags"]})

    def _search_users(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        external = request.url.params.get("external_id")
        if external is None:
            return self.error(400, "the fake searches users by external_id only")
        found = [u for u in self.users.values() if str(u["external_id"] or "").lower() == external.lower()]
        return httpx.Response(200, json={"users": found, "count": len(found), "next_page": None})

    def _requested_tickets(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        user_id = int(match["id"])
        if user_id not in self.users:
            return self.error(404, "RecordNotFound")
        params = request.url.params
        field = params.get("sort_by", "id")
        found = sorted((t for t in self.tickets.values() if t["requester_id"] == user_id),
                       key=lambda t: (t.get(field) or "", t["id"]) if field != "id" else t["id"],
                       reverse=params.get("sort_order", "asc") == "desc")  # fmt: skip
        size = int(params.get("per_page", 100))
        return httpx.Response(200, json={"tickets": found[:size], "count": len(found), "next_page": None})

    def _list_comments(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket_id = int(match["id"])
        if ticket_id not in self.tickets:
            return self.error(404, "RecordNotFound")
        size = int(request.url.params.get("page[size]", 100))
        after = int(request.url.params.get("page[after]", 0))
        page = self.comments[ticket_id][after : after + size]
        has_more = after + size < len(self.comments[ticket_id])
        base = HOST_PATTERN.match(str(request.url))
        next_url = f"{base.group(0) if base else ''}{request.url.path}?include=users&page[size]={size}&page[after]={after + size}"
        answer: dict[str, Any] = {"comments": page, "meta": {"has_more": has_more},
                                  "links": {"next": next_url if has_more else None}}  # fmt: skip
        if "users" in request.url.params.get("include", ""):
            answer["users"] = [self.users[a] for a in {c["author_id"] for c in page}]
        return httpx.Response(200, json=answer)

    # -- attachments -----------------------------------------------------------------------------
    def store_upload(self, filename: str, content_type: str, data: bytes) -> str:
        token = secrets.token_hex(12)
        attachment_id = next(self._ids)
        self.files[attachment_id] = data
        url = f"{self.base_url}/attachments/token/{token}/?name={filename}"
        self.uploads[token] = [{"id": attachment_id, "file_name": filename, "content_type": content_type,
                                "content_url": url, "size": len(data), "inline": False, "deleted": False,
                                "malware_scan_result": "malware_not_found", "thumbnails": []}]  # fmt: skip
        return token

    def _upload(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        filename = request.url.params.get("filename")
        if not filename:
            return self.error(400, "filename is required")
        content_type = request.headers.get("content-type", "application/binary")
        token = self.store_upload(filename, content_type, request.content)
        attachment = self.uploads[token][0]
        return httpx.Response(
            201, json={"upload": {"token": token, "attachment": attachment, "attachments": [attachment]}}
        )

    def _attachment_content(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        for comments in self.comments.values():
            for attachment in (a for c in comments for a in c["attachments"]):
                if f"/token/{match['token']}/" in attachment["content_url"]:
                    data = self.files[attachment["id"]]
                    return httpx.Response(
                        200, content=data, headers={"content-type": attachment["content_type"]}
                    )
        return self.error(404, "RecordNotFound")

    # -- webhooks and triggers -------------------------------------------------------------------
    def _list_webhooks(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        needle = request.url.params.get("filter[name_contains]", "")
        return httpx.Response(
            200, json={"webhooks": [w for w in self.webhooks.values() if needle in w["name"]]}
        )

    def _create_webhook(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        webhook_id = f"01GFAKE{next(self._ids)}"
        self.webhooks[webhook_id] = {"id": webhook_id, **body["webhook"]}
        return httpx.Response(201, json={"webhook": self.webhooks[webhook_id]})

    def _update_webhook(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        if match["id"] not in self.webhooks:
            return self.error(404, "RecordNotFound")
        self.webhooks[match["id"]].update(body["webhook"])
        return httpx.Response(204)

    def _signing_secret(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        if match["id"] not in self.webhooks:
            return self.error(404, "RecordNotFound")
        return httpx.Response(
            200, json={"signing_secret": {"algorithm": "SHA256", "secret": self.webhook_secret}}
        )

    def _list_triggers(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        return httpx.Response(
            200, json={"triggers": list(self.triggers.values()), "count": len(self.triggers)}
        )

    def _create_trigger(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        trigger_id = next(self._ids)
        self.triggers[trigger_id] = {"id": trigger_id, **body["trigger"]}
        return httpx.Response(201, json={"trigger": self.triggers[trigger_id]})

    def _update_trigger(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        trigger = self.triggers.get(int(match["id"]))
        if trigger is None:
            return self.error(404, "RecordNotFound")
        trigger.update(body["trigger"])
        return httpx.Response(200, json={"trigger": trigger})


def hmac_sha256(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
