"""The Freshdesk API v2 calls behind the `Helpdesk` protocol.

Authentication is HTTP Basic with the agent's API key as user name and `X` as password. Idempotency,
per the vendor (which has no idempotency header): our key goes into the ticket custom field
`cf_sav_bridge_key`, and a retried create first lists the requester's tickets for it; a retried note
first reads the ticket's conversations for the same author and text. Customer follow-ups and our notes
go through `/notes`, never `/reply`, which e-mails the requester.

Rate limits: a 429's `Retry-After` is the wait (60 s, Freshdesk's per-minute window, when it is
absent); an answer saying `X-RateLimit-Remaining: 0` holds further calls until that window has passed,
since Freshdesk counts refused calls too.

Care (`update_ticket`, `customer_history`): a ticket update REPLACES the ticket's tags, and Freshdesk has
no call that adds one nor a conditional update, so the plugin reads the ticket (its tags and priority),
then writes the union of the tags with only what changes: a tag an agent adds between that read and
the write is lost (a window of one round trip; a retry reads again). Priority 1-4 is only raised; the
group, agent (`responder_id`, from `freshdesk.assignees` or the agent's e-mail) and `cf_` fields come
from the section's maps. The history lists the X user's contact's tickets with `updated_since` far
back, since without it Freshdesk lists only the last 30 days; it creates no contact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TextIO

import httpx

from sav_bridge.config import BaseSettings, reveal
from sav_bridge.errors import PermanentError, RetryableError
from sav_bridge.helpdesks import WebhookAnswer, WebhookNotice, json_answer, packaged_schema
from sav_bridge.http import RETRYABLE_STATUS, VendorErrors, send
from sav_bridge.model import (
    AgentReply,
    Attachment,
    AttachmentRef,
    Conversation,
    PastTicket,
    SocialMessage,
    SocialUser,
    TicketRef,
    TicketUpdate,
)
from sav_bridge.ticket_text import message_text
from sav_bridge.ticket_update import Mappings, raised, union
from sav_bridge_freshdesk import payloads, webhook
from sav_bridge_freshdesk.provision import provision

#: Freshdesk's 409 is a duplicate value (a contact's `unique_external_id` taken), never a passing conflict.
FRESHDESK_ERRORS = VendorErrors(
    name="freshdesk", retry_after_headers=("retry-after",), retryable_status=RETRYABLE_STATUS - {409}
)
REMAINING_HEADER = "x-ratelimit-remaining"
#: Freshdesk's limits are per minute: the wait when a 429 or a spent budget names none.
WINDOW_SECONDS = 60.0
PER_PAGE = 100
DEFAULT_TIMEOUT = 15.0  # freshdesk.timeout_seconds in config.schema.json
#: Care's logical names, by kind, and the `freshdesk` keys that map them (Freshdesk has no brands).
MAPS = {"group": "groups", "assignee": "assignees", "field": "fields"}


class FreshdeskHelpdesk:
    name: ClassVar[str] = payloads.HELPDESK
    accepts_attachments: ClassVar[bool] = False
    dm_marker: ClassVar[str] = f"the tag {payloads.DM_TAG}"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        api_key: str,
        webhook_secret: str,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        mappings: Mappings | None = None,
    ) -> None:
        self._client = client
        self._timeout = httpx.Timeout(timeout)
        self._base = url.rstrip("/")
        self._auth = httpx.BasicAuth(api_key, "X")
        self._webhook_secret = webhook_secret
        self._clock = clock
        self._spent_until = 0.0
        self._me: int | None = None
        #: Agents by id (`None`: that user is no agent), read once each from the agents API.
        self._agents: dict[int, Mapping[str, Any] | None] = {}
        self._maps = mappings or Mappings(self.name, {}, MAPS)
        #: Agent ids by e-mail, for care's assignees named by e-mail.
        self._agent_ids: dict[str, int] = {}

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """The JSON Schema of the `freshdesk` configuration section (the core merges it into its own)."""
        return packaged_schema(__package__ or __name__)

    @classmethod
    def from_settings(cls, settings: BaseSettings, client: httpx.AsyncClient) -> FreshdeskHelpdesk:
        section = settings.helpdesk_section()
        return cls(
            client,
            section["url"],
            reveal(section["api_key"]),
            reveal(section["webhook_secret"]),
            float(section.get("timeout_seconds", DEFAULT_TIMEOUT)),
            mappings=Mappings.from_section(cls.name, section, MAPS),
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self._response(method, path, **kwargs))[0]

    async def _response(self, method: str, path: str, **kwargs: Any) -> tuple[Any, httpx.Response]:
        wait = self._spent_until - self._clock()
        if wait > 0:
            raise RetryableError(self.name, "X-RateLimit-Remaining was 0: waiting for the next minute", 429,
                                 wait)  # fmt: skip
        try:
            response = await send(self._client, FRESHDESK_ERRORS, method, self._base + path, auth=self._auth,
                                  timeout=self._timeout, **kwargs)  # fmt: skip
        except RetryableError as exc:
            if exc.status == 429 and exc.retry_after is None:
                exc.retry_after = WINDOW_SECONDS
            raise
        if response.headers.get(REMAINING_HEADER, "").strip() == "0":
            self._spent_until = self._clock() + WINDOW_SECONDS
        if not response.content:
            return None, response
        try:
            return response.json(), response
        except ValueError as exc:
            raise RetryableError(self.name, f"non-JSON answer (HTTP {response.status_code})") from exc

    async def check_credentials(self) -> str:
        me = await self._call("GET", "/api/v2/agents/me")
        if not isinstance(me, dict) or not me.get("id"):
            raise PermanentError(self.name, "credentials refused: /agents/me names no agent", 401)
        contact = me.get("contact") or {}
        return f"{contact.get('email') or contact.get('name')} (agent {me['id']})"

    async def _my_id(self) -> int:
        if self._me is None:
            self._me = int((await self._call("GET", "/api/v2/agents/me"))["id"])
        return self._me

    # -- contacts and tickets --------------------------------------------------------------------
    async def _contact(self, msg: SocialMessage) -> int:
        """The contact keyed on the X user id, created on first contact (a race's 409 finds the winner)."""
        external = payloads.unique_external_id(msg.author)
        found = await self._call("GET", "/api/v2/contacts", params={"unique_external_id": external})
        if found:
            return int(found[0]["id"])
        try:
            created = await self._call("POST", "/api/v2/contacts", json=payloads.contact_create(msg.author))
        except PermanentError as exc:
            if exc.status != 409:
                raise
            found = await self._call("GET", "/api/v2/contacts", params={"unique_external_id": external})
            if not found:
                raise
            return int(found[0]["id"])
        return int(created["id"])

    async def open_ticket(
        self,
        conv: Conversation,
        first: SocialMessage,
        key: str,
        retry: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> TicketRef:
        requester = await self._contact(first)
        if retry and (found := await self._ticket_with_key(requester, key)):
            return found
        created = await self._call(
            "POST", "/api/v2/tickets", json=payloads.ticket_create(first, requester, key)
        )
        return TicketRef(self.name, str(created["id"]))

    async def _ticket_with_key(self, requester: int, key: str) -> TicketRef | None:
        """The requester's ticket holding `key` (a listing, not the search index, which lags)."""
        page = 1
        while True:
            tickets = await self._call("GET", "/api/v2/tickets", params={
                "requester_id": requester, "order_by": "created_at", "order_type": "desc",
                "per_page": PER_PAGE, "page": page})  # fmt: skip
            for ticket in tickets or []:
                if (ticket.get("custom_fields") or {}).get(payloads.KEY_FIELD) == key:
                    return TicketRef(self.name, str(ticket["id"]))
            if len(tickets or []) < PER_PAGE:
                return None
            page += 1

    async def add_customer_message(
        self,
        ticket: TicketRef,
        msg: SocialMessage,
        key: str,
        retry: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> TicketRef:
        current = await self._call("GET", f"/api/v2/tickets/{ticket.id}")
        contact = await self._contact(msg)
        text = message_text(msg)
        if not (retry and await self._has_note(ticket, contact, text)):
            await self._call("POST", f"/api/v2/tickets/{ticket.id}/notes",
                             json=payloads.customer_note(msg, contact))  # fmt: skip
        if current.get("status") in payloads.REOPEN_STATUSES:
            await self._call("PUT", f"/api/v2/tickets/{ticket.id}", json={"status": payloads.STATUS_OPEN})
        return ticket

    async def add_internal_note(self, ticket: TicketRef, text: str, key: str, retry: bool = False) -> None:
        if retry and await self._has_note(ticket, await self._my_id(), text):
            return
        await self._call("POST", f"/api/v2/tickets/{ticket.id}/notes", json=payloads.internal_note(text))

    async def _conversations(self, ticket: TicketRef) -> list[Mapping[str, Any]]:
        """Every conversation of the ticket, oldest first, page after page (100 a page at most)."""
        found: list[Mapping[str, Any]] = []
        page = 1
        while True:
            items, response = await self._response("GET", f"/api/v2/tickets/{ticket.id}/conversations",
                                                   params={"page": page, "per_page": PER_PAGE})  # fmt: skip
            found += [item for item in items or [] if isinstance(item, dict)]
            if "next" not in response.links and len(items or []) < PER_PAGE:
                return found
            page += 1

    async def _has_note(self, ticket: TicketRef, author: int, text: str) -> bool:
        return any(
            item.get("user_id") == author and payloads.same_text(item, text)
            for item in await self._conversations(ticket)
        )

    async def _agents_among(self, user_ids: set[int]) -> dict[int, Mapping[str, Any]]:
        for user_id in user_ids - set(self._agents):
            try:
                self._agents[user_id] = await self._call("GET", f"/api/v2/agents/{user_id}")
            except PermanentError as exc:
                if exc.status != 404:
                    raise
                self._agents[user_id] = None  # a contact, not an agent
        return {k: v for k in user_ids if (v := self._agents.get(k)) is not None}

    async def agent_replies(self, ticket: TicketRef) -> list[AgentReply]:
        details = await self._call("GET", f"/api/v2/tickets/{ticket.id}")
        conversations = await self._conversations(ticket)
        candidates = {
            int(c["user_id"])
            for c in conversations
            if isinstance(c.get("user_id"), int) and not c.get("private") and not c.get("incoming")
        }
        agents = await self._agents_among(candidates - {details.get("requester_id")})
        tags = list(details.get("tags") or [])
        me = await self._my_id()
        replies: list[AgentReply] = payloads.agent_replies(ticket, conversations, tags, agents, me)
        return replies

    async def download_attachment(self, ref: AttachmentRef, max_bytes: int) -> Attachment:
        raise PermanentError(self.name, "this plugin does not list agents' files yet")

    # -- care ------------------------------------------------------------------------------------
    async def update_ticket(
        self, ticket: TicketRef, update: TicketUpdate, key: str, retry: bool = False
    ) -> None:
        if update.brand is not None:
            self._maps.skipped("brand", update.brand, "Freshdesk tickets have no brand")
        current = await self._call("GET", f"/api/v2/tickets/{ticket.id}")
        changes: dict[str, Any] = {}
        tags = list(current.get("tags") or [])
        if (merged := union(tags, update.tags)) != tags:
            changes["tags"] = merged  # the whole list: Freshdesk replaces it
        if (group := self._maps.get("group", update.group)) is not None and group != current.get("group_id"):
            changes["group_id"] = group
        agent = await self._agent_for(update.assignee)
        if agent is not None and agent != current.get("responder_id"):
            changes["responder_id"] = agent
        have = current.get("custom_fields") or {}
        fields = {
            name: value for name, value in self._maps.fields(update.fields).items() if have.get(name) != value
        }
        if fields:
            changes["custom_fields"] = fields
        if (priority := raised(current.get("priority"), update.priority, payloads.PRIORITIES)) is not None:
            changes["priority"] = priority
        if changes:
            await self._call("PUT", f"/api/v2/tickets/{ticket.id}", json=changes)

    async def _agent_for(self, assignee: str | None) -> int | None:
        """The agent id of a logical assignee (`freshdesk.assignees`) or of an agent's e-mail."""
        if assignee is None or "@" not in assignee:
            found = self._maps.get("assignee", assignee)
            return int(found) if found is not None else None
        if assignee not in self._agent_ids:
            agents = await self._call("GET", "/api/v2/agents", params={"email": assignee})
            ids = [int(a["id"]) for a in agents or [] if isinstance(a, dict) and isinstance(a.get("id"), int)]
            if not ids:
                self._maps.skipped("assignee", assignee, "no Freshdesk agent has this e-mail")
                return None
            self._agent_ids[assignee] = ids[0]
        return self._agent_ids[assignee]

    async def customer_history(
        self, customer: SocialUser, exclude: TicketRef | None = None, limit: int = 5
    ) -> list[PastTicket]:
        if limit <= 0:
            return []
        external = payloads.unique_external_id(customer)
        contacts = await self._call("GET", "/api/v2/contacts", params={"unique_external_id": external})
        if not contacts:
            return []
        tickets = await self._call("GET", "/api/v2/tickets", params={
            "requester_id": int(contacts[0]["id"]), "updated_since": payloads.SINCE_EVER,
            "order_by": "created_at", "order_type": "desc", "per_page": min(limit + 1, PER_PAGE)})  # fmt: skip
        return payloads.past_tickets(tickets, exclude, limit)

    # -- webhooks --------------------------------------------------------------------------------
    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        webhook.verify(self._webhook_secret, headers)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice:
        ticket_id, key = webhook.parse(body)
        return WebhookNotice(key=key, ticket_ids=(ticket_id,))

    def webhook_answer(self, notice: WebhookNotice, accepted: int) -> WebhookAnswer:
        """Freshdesk only needs a 2xx (anything else is retried at +5, +30 and +60 minutes)."""
        return json_answer(notice, accepted)

    async def provision(self, public_url: str, dry_run: bool, out: TextIO) -> None:
        """Freshdesk's API creates no automation rule: print, step by step, what the admin creates (with
        or without `dry_run`), the token as a placeholder."""
        provision(public_url, out)
