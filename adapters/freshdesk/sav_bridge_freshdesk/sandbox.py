"""A fake Freshdesk account: agents, contacts, tickets and their conversations, in API v2's shapes.

Answers follow the vendor samples (`freshdesk/samples/*.json` in the vendor folder: `ticket_1.json`,
`note_1.json`, `reply_1.json`, `contact.json`, `agent_1.json`); requests are checked against `spec.py`.
It behaves as the vendor does where our gateway depends on it: Basic auth `api_key:X`, a 409 for a second
contact with one `unique_external_id`, a custom field refused until the admin has created it, paged
conversations (`page`, `per_page` ≤ 100, a `Link: …; rel="next"` header), per-minute limits with
`X-RateLimit-*` headers and a 429 with `Retry-After` once spent. Injected faults add 5xx, timeouts and
lost answers (duplicates for a client that retries blindly). `/reply` e-mails the requester: the fake
counts it in `emails_sent`, and `received()` counts every request by operation. Care's calls: a ticket
update REPLACES the ticket's tags (Freshdesk's trap: a client sending only its new tag erases the
others), merges `custom_fields` and refuses (400) a group, agent or custom field the account lacks;
the ticket listing shows only tickets created in the last 30 days unless `updated_since` is given,
sorted by `order_by`/`order_type`; `GET /agents?email=` finds an agent.

The core's `Sandbox` finds it through the entry point `freshdesk` in group `sav_bridge.sandboxes`.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sav_bridge.config import BaseSettings, reveal
from sav_bridge.sandbox.base import Answer, FakeVendor
from sav_bridge.sandbox.contracts import Violation
from sav_bridge_freshdesk import payloads, spec, webhook

#: Freshdesk Pro: 400 calls a minute for the whole account.
CALLS_PER_MINUTE = 400
#: What `GET /api/v2/tickets` lists without `updated_since`: tickets created in the last 30 days.
DEFAULT_WINDOW_SECONDS = 30 * 86400


class FakeFreshdesk(FakeVendor):
    name = "freshdesk"

    def __init__(
        self,
        api_key: str,
        webhook_secret: str,
        clock: Callable[[], float] = time.time,
        url: str = "https://sandbox.freshdesk.com",
        custom_fields: tuple[str, ...] = (payloads.KEY_FIELD,),
        calls_per_minute: int = CALLS_PER_MINUTE,
    ) -> None:
        super().__init__()
        self.base_url = url.rstrip("/")
        self.hosts = (urlsplit(self.base_url).netloc,)
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.clock = clock
        self.custom_fields = custom_fields
        self.calls_per_minute = calls_per_minute
        self._ids = itertools.count(5001)
        self._minute: tuple[int, int] = (0, 0)
        self.contacts: dict[int, dict[str, Any]] = {}
        self.agents: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        #: The account's groups (care routes tickets to them).
        self.groups: set[int] = set()
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        #: (ticket id, body) of every e-mail `/reply` sent to a requester.
        self.emails_sent: list[tuple[int, str]] = []
        self.me = self.add_agent("sav-bridge API", "api@sandbox.example")
        for method, pattern, handler in [
            ("GET", r"/api/v2/agents/me", self._get_me),
            ("GET", r"/api/v2/agents/(?P<id>\d+)", self._get_agent),
            ("GET", r"/api/v2/agents", self._list_agents),
            ("GET", r"/api/v2/contacts", self._list_contacts),
            ("POST", r"/api/v2/contacts", self._create_contact),
            ("GET", r"/api/v2/tickets", self._list_tickets),
            ("POST", r"/api/v2/tickets", self._create_ticket),
            ("GET", r"/api/v2/tickets/(?P<id>\d+)", self._get_ticket),
            ("PUT", r"/api/v2/tickets/(?P<id>\d+)", self._update_ticket),
            ("GET", r"/api/v2/tickets/(?P<id>\d+)/conversations", self._list_conversations),
            ("POST", r"/api/v2/tickets/(?P<id>\d+)/notes", self._create_note),
            ("POST", r"/api/v2/tickets/(?P<id>\d+)/reply", self._create_reply),
        ]:
            self.route(method, pattern, handler)

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, vendor_dir: Path | None, clock: Callable[[], float] = time.time
    ) -> FakeFreshdesk:
        """The account the `freshdesk` section describes (`spec.py` checks requests, vendor folder or not)."""
        section = settings.helpdesk_section()
        fields = (payloads.KEY_FIELD, *(section.get("fields") or {}).values())
        fake = cls(
            reveal(section["api_key"]), reveal(section["webhook_secret"]), clock, section["url"], fields
        )
        # The account has what the configuration maps care's names to (an admin made them first).
        fake.groups.update(int(v) for v in (section.get("groups") or {}).values())
        for agent_id in (section.get("assignees") or {}).values():
            if int(agent_id) not in fake.agents:
                fake.add_agent(f"Agent {agent_id}", f"agent{agent_id}@example.com", agent_id=int(agent_id))
        return fake

    # -- the vendor's manners --------------------------------------------------------------------
    def authorised(self, request: httpx.Request) -> bool:
        expected = base64.b64encode(f"{self.api_key}:X".encode()).decode()
        return bool(request.headers.get("authorization") == f"Basic {expected}")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        if status == 401:
            body: dict[str, Any] = {"code": "invalid_credentials", "message": message}
        else:
            body = {"description": message, "errors": []}
        return httpx.Response(status, json=body, headers=headers)

    def _check(self, request: httpx.Request, body: Any) -> list[Violation]:
        problems: list[Violation] = spec.check(
            request.method, request.url.path, body, dict(request.url.params)
        )
        return problems

    def _dispatch(self, request: httpx.Request) -> Answer:
        minute = int(self.clock() // 60)
        used = self._minute[1] + 1 if self._minute[0] == minute else 1
        self._minute = (minute, used)
        limits = {"X-RateLimit-Total": str(self.calls_per_minute),
                  "X-RateLimit-Remaining": str(max(self.calls_per_minute - used, 0)),
                  "X-RateLimit-Used-CurrentRequest": "1"}  # fmt: skip
        if used > self.calls_per_minute:
            wait = str(60 * (minute + 1) - int(self.clock()))
            return self.error(429, "You have exceeded the limit of requests per minute",
                              {**limits, "Retry-After": wait})  # fmt: skip
        answer = super()._dispatch(request)
        if isinstance(answer, httpx.Response):
            answer.headers.update(limits)
        return answer

    def used_this_minute(self) -> int:
        """Calls counted against this minute's limit so far."""
        return self._minute[1] if self._minute[0] == int(self.clock() // 60) else 0

    def received(self) -> Counter[str]:
        """How many requests of each operation reached the fake, as `"POST /api/v2/tickets/{id}/notes"`."""
        return Counter(f"{r.method} {re.sub(r'/[0-9]+', '/{id}', r.url.path)}" for r in self.requests)

    def _now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- helpers for tests and the demo ---------------------------------------------------------
    def add_contact(self, name: str, contact_id: int | None = None, **fields: Any) -> int:
        contact_id = contact_id or next(self._ids)
        self.contacts[contact_id] = {"active": False, "address": None, "company_id": None, "created_at": self._now(),
                                     "custom_field": {}, "deleted": False, "description": None, "email": None,
                                     "helpdesk_agent": False, "id": contact_id, "job_title": None,
                                     "language": "en", "mobile": None, "name": name, "phone": None,
                                     "time_zone": "Paris", "twitter_id": None, "unique_external_id": None,
                                     "updated_at": self._now(), **fields}  # fmt: skip
        return contact_id

    def add_agent(self, name: str, email: str, agent_id: int | None = None) -> int:
        """An agent of the account: a contact too, with `agent_1.json`'s shape."""
        agent_id = self.add_contact(name, agent_id, email=email, helpdesk_agent=True)
        self.agents[agent_id] = {"available": True, "occasional": False, "signature": None, "id": agent_id,
                                 "ticket_scope": 1, "created_at": self._now(), "updated_at": self._now(),
                                 "contact": {"active": True, "email": email, "name": name,
                                             "language": "fr", "time_zone": "Paris"}}  # fmt: skip
        return agent_id

    def add_conversation(
        self, ticket_id: int | str, user_id: int, text: str, *, private: bool, incoming: bool, source: int = 2
    ) -> int:
        """A conversation as `note_1.json` (source 2) or `reply_1.json` (source 0) shows one."""
        ticket = self.tickets[int(ticket_id)]
        conversation_id = next(self._ids)
        body = payloads.to_html(text) if not text.startswith("<") else text
        self.conversations[ticket["id"]].append({"body": body, "body_text": payloads.to_text(body),
            "id": conversation_id, "incoming": incoming, "private": private, "user_id": user_id,
            "support_email": None, "source": source, "ticket_id": ticket["id"], "to_emails": [],
            "from_email": None, "cc_emails": None, "bcc_emails": None, "created_at": self._now(),
            "updated_at": self._now(), "attachments": []})  # fmt: skip
        ticket["updated_at"] = self._now()
        return conversation_id

    def agent_reply(self, ticket_id: int | str, agent_id: int, text: str) -> int:
        """An agent answers in Freshdesk's interface (the reply e-mails the requester, as Freshdesk does)."""
        self.emails_sent.append((int(ticket_id), text))
        return self.add_conversation(ticket_id, agent_id, text, private=False, incoming=False, source=0)

    def public_texts(self, ticket_id: int | str) -> list[str]:
        ticket = self.tickets[int(ticket_id)]
        return [ticket["description_text"]] + [
            c["body_text"] for c in self.conversations[ticket["id"]] if not c["private"]
        ]

    def private_texts(self, ticket_id: int | str) -> list[str]:
        return [c["body_text"] for c in self.conversations[int(ticket_id)] if c["private"]]

    def doorbell(
        self, ticket_id: int | str, secret: str | None = None, **fields: Any
    ) -> tuple[dict[str, str], bytes]:
        """The request the README's automation rule sends when an agent replies."""
        body = json.dumps({"ticket_id": int(ticket_id), **fields}).encode()
        headers = {"content-type": "application/json", webhook.TOKEN_HEADER: secret or self.webhook_secret}
        return headers, body

    # -- agents and contacts ---------------------------------------------------------------------
    def _get_me(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        return httpx.Response(200, json=self.agents[self.me])

    def _get_agent(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        agent = self.agents.get(int(match["id"]))
        return httpx.Response(200, json=agent) if agent else httpx.Response(404)

    def _list_agents(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        wanted = request.url.params.get("email")
        found = [a for a in self.agents.values() if wanted is None or a["contact"]["email"] == wanted]
        return httpx.Response(200, json=found)

    def _list_contacts(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        wanted = request.url.params.get("unique_external_id")
        found = [c for c in self.contacts.values() if wanted is None or c["unique_external_id"] == wanted]
        return httpx.Response(200, json=found)

    def _create_contact(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        external = body.get("unique_external_id")
        if external and any(c["unique_external_id"] == external for c in self.contacts.values()):
            return httpx.Response(409, json={"description": "Validation failed", "errors": [
                {"field": "unique_external_id", "message": "It should be a unique value",
                 "code": "duplicate_value"}]})  # fmt: skip
        fields = {k: v for k, v in body.items() if k != "name"}
        return httpx.Response(201, json=self.contacts[self.add_contact(body["name"], **fields)])

    # -- tickets ---------------------------------------------------------------------------------
    def _list_tickets(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        params = request.url.params
        found = [t for t in self.tickets.values()
                 if "requester_id" not in params or str(t["requester_id"]) == params["requester_id"]]  # fmt: skip
        if "updated_since" in params:
            found = [t for t in found if t["updated_at"] >= params["updated_since"]]
        else:  # Freshdesk's default: tickets created within the past 30 days only
            since = datetime.fromtimestamp(self.clock() - DEFAULT_WINDOW_SECONDS, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            found = [t for t in found if t["created_at"] >= since]
        field = params.get("order_by", "created_at")
        found.sort(
            key=lambda t: (t.get(field) or "", t["id"]), reverse=params.get("order_type", "desc") == "desc"
        )
        size, page = int(params.get("per_page", 30)), int(params.get("page", 1))
        return httpx.Response(200, json=found[(page - 1) * size : page * size])

    def _create_ticket(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        unknown = [name for name in body.get("custom_fields", {}) if name not in self.custom_fields]
        if unknown:
            return httpx.Response(400, json={"description": "Validation failed", "errors": [
                {"field": name, "message": "Unexpected/invalid field in request", "code": "invalid_field"}
                for name in unknown]})  # fmt: skip
        requester = body.get("requester_id")
        if requester not in self.contacts:
            return httpx.Response(400, json={"description": "Validation failed", "errors": [
                {"field": "requester_id", "message": "There is no contact matching the given requester_id",
                 "code": "invalid_value"}]})  # fmt: skip
        ticket_id = next(self._ids)
        custom = {name: None for name in self.custom_fields} | body.get("custom_fields", {})
        self.tickets[ticket_id] = {"cc_emails": [], "fwd_emails": [], "reply_cc_emails": [], "fr_escalated": False,
            "spam": False, "email_config_id": None, "group_id": body.get("group_id"),
            "priority": body["priority"], "requester_id": requester, "responder_id": body.get("responder_id"),
            "source": body.get("source", 2), "status": body["status"], "subject": body["subject"],
            "to_emails": None, "product_id": None, "id": ticket_id, "type": body.get("type"),
            "due_by": self._now(), "fr_due_by": self._now(), "is_escalated": False,
            "description": body["description"], "description_text": payloads.to_text(body["description"]),
            "custom_fields": custom, "created_at": self._now(), "updated_at": self._now(),
            "tags": list(body.get("tags", [])), "attachments": []}  # fmt: skip
        self.conversations[ticket_id] = []
        return httpx.Response(201, json=self.tickets[ticket_id],
                              headers={"location": f"{self.base_url}/api/v2/tickets/{ticket_id}"})  # fmt: skip

    def _ticket(self, match: re.Match[str]) -> dict[str, Any] | None:
        return self.tickets.get(int(match["id"]))

    def _get_ticket(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket = self._ticket(match)
        return httpx.Response(200, json=ticket) if ticket else httpx.Response(404)

    def _update_ticket(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket = self._ticket(match)
        if ticket is None:
            return httpx.Response(404)
        refused = self._invalid(body)
        if refused is not None:
            return refused
        custom = body.pop("custom_fields", {})
        ticket.update(body)  # `tags` included: the list replaces the ticket's
        ticket["custom_fields"] = ticket["custom_fields"] | custom
        ticket["updated_at"] = self._now()
        return httpx.Response(200, json=ticket)

    def _invalid(self, body: dict[str, Any]) -> httpx.Response | None:
        """Freshdesk's 400 for a custom field, group or agent the account lacks (nothing is written)."""
        errors = [{"field": name, "message": "Unexpected/invalid field in request", "code": "invalid_field"}
                  for name in body.get("custom_fields", {}) if name not in self.custom_fields]  # fmt: skip
        if body.get("group_id") is not None and body["group_id"] not in self.groups:
            errors.append({"field": "group_id", "message": "There is no group matching the given group_id",
                           "code": "invalid_value"})  # fmt: skip
        if body.get("responder_id") is not None and body["responder_id"] not in self.agents:
            errors.append({"field": "responder_id", "message": "There is no agent matching the given responder_id",
                           "code": "invalid_value"})  # fmt: skip
        if not errors:
            return None
        return httpx.Response(400, json={"description": "Validation failed", "errors": errors})

    def _list_conversations(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket = self._ticket(match)
        if ticket is None:
            return httpx.Response(404)
        size = int(request.url.params.get("per_page", 30))
        page = int(request.url.params.get("page", 1))
        items = self.conversations[ticket["id"]]
        headers = {}
        if page * size < len(items):
            path = f"{self.base_url}/api/v2/tickets/{ticket['id']}/conversations"
            headers["link"] = f'<{path}?page={page + 1}&per_page={size}>; rel="next"'
        return httpx.Response(200, json=items[(page - 1) * size : page * size], headers=headers)

    def _create_note(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket = self._ticket(match)
        if ticket is None:
            return httpx.Response(404)
        author = body.get("user_id", self.me)
        if author not in self.contacts:
            return httpx.Response(400, json={"description": "Validation failed", "errors": [
                {"field": "user_id", "message": "There is no contact or agent matching the given user_id",
                 "code": "invalid_value"}]})  # fmt: skip
        conversation_id = self.add_conversation(ticket["id"], author, body["body"], private=body.get("private", True),
                                                incoming=body.get("incoming", False))  # fmt: skip
        return httpx.Response(201, json=self.conversations[ticket["id"]][-1] | {"id": conversation_id})

    def _create_reply(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        ticket = self._ticket(match)
        if ticket is None:
            return httpx.Response(404)
        conversation_id = self.agent_reply(ticket["id"], body.get("user_id", self.me), body["body"])
        return httpx.Response(201, json=self.conversations[ticket["id"]][-1] | {"id": conversation_id})
