"""The Zendesk Support calls behind the `Helpdesk` protocol.

Idempotency, per the vendor: ticket creation carries an `Idempotency-Key` header and our key as the
ticket's `external_id` (looked up before a retried create); comment and note retries first check the
ticket's comments for the same author and body.

Files: a customer's media is uploaded (`POST /api/v2/uploads?filename=…`, the raw bytes with their
type) and its token named in the comment's `uploads`; an unused upload expires on its own, so a retry
simply uploads again. An agent's files are the comment's `attachments[]`, downloaded from their
`content_url` with our credentials only when that URL is on the account's own host (Zendesk warns the
file may be hosted elsewhere).

Care (`update_ticket`, `customer_history`): tags go through the Add Tags endpoint (`PUT
/api/v2/tickets/{id}/tags`), never the ticket's `tags` (which replaces them) nor `additional_tags` (which
Zendesk honours on `update_many` only); the rest is one `PUT /api/v2/tickets/{id}`, the ticket read
first only when the update carries a priority, so that it is never lowered. Both are idempotent: a
repeat adds tags already there and writes the same values. The history lists the tickets the user
upserted for the X user (`external_id` "x:<id>") requested, newest first, whatever their channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TextIO
from urllib.parse import urlsplit

import httpx

from sav_bridge.config import BaseSettings, reveal
from sav_bridge.errors import MalformedRequest, PermanentError
from sav_bridge.helpdesks import WebhookAnswer, WebhookNotice, json_answer, packaged_schema
from sav_bridge.http import VendorErrors, json_body, raise_for_vendor, send, transport_errors
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
from sav_bridge.ticket_update import Mappings, raised
from sav_bridge_zendesk import payloads, webhook
from sav_bridge_zendesk.provision import provision

ZENDESK_ERRORS = VendorErrors(name="zendesk", retry_after_headers=("retry-after",))
#: Zendesk ticket ids: ASCII digits ('²'.isdigit() is true, and so is '١٢٣').
TICKET_ID = re.compile(r"[0-9]{1,19}")
REOPEN_STATUSES = frozenset({"pending", "hold", "solved"})
DEFAULT_TIMEOUT = 15.0  # zendesk.timeout_seconds in config.schema.json
#: Care's logical names, by kind, and the `zendesk` keys that map them to Zendesk ids.
MAPS = {"group": "groups", "brand": "brands", "assignee": "assignees", "field": "fields"}
#: Tickets asked of Zendesk per history page (its listings stop at 100).
HISTORY_PAGE = 100


class ZendeskHelpdesk:
    name: ClassVar[str] = payloads.HELPDESK
    accepts_attachments: ClassVar[bool] = True
    dm_marker: ClassVar[str] = f"the tag {payloads.DM_TAG}"
    #: Where an attachment's `content_url` may redirect a download (Zendesk serves files from its
    #: user-content domain); the gateway's client reaches no other host than the configured `zendesk.url`.
    remote_hosts: ClassVar[tuple[str, ...]] = ("*.zdusercontent.com",)

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        email: str,
        api_token: str,
        webhook_secret: str,
        tolerance: float,
        timeout: float = DEFAULT_TIMEOUT,
        mappings: Mappings | None = None,
    ) -> None:
        self._client = client
        self._timeout = httpx.Timeout(timeout)
        self._base = url.rstrip("/")
        self._auth = httpx.BasicAuth(f"{email}/token", api_token)
        self._webhook_secret = webhook_secret
        self._tolerance = tolerance
        self._me: int | None = None
        self._maps = mappings or Mappings(self.name, {}, MAPS)

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """The JSON Schema of the `zendesk` configuration section (the core merges it into its own)."""
        return packaged_schema(__package__ or __name__)

    @classmethod
    def from_settings(cls, settings: BaseSettings, client: httpx.AsyncClient) -> ZendeskHelpdesk:
        section = settings.helpdesk_section()
        return cls(
            client,
            section["url"],
            section["email"],
            reveal(section["api_token"]),
            reveal(section["webhook_secret"]),
            settings.webhook_tolerance_seconds,
            float(section.get("timeout_seconds", DEFAULT_TIMEOUT)),
            Mappings.from_section(cls.name, section, MAPS),
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> Mapping[str, Any]:
        response = await send(
            self._client,
            ZENDESK_ERRORS,
            method,
            self._base + path,
            auth=self._auth,
            timeout=self._timeout,
            **kwargs,
        )
        return json_body(response) if response.content else {}

    async def check_credentials(self) -> str:
        user = (await self._call("GET", "/api/v2/users/me"))["user"]
        if not user.get("id"):
            # Zendesk answers an anonymous "me" (no id) instead of 401 when the token is not accepted.
            raise PermanentError(self.name, "credentials refused (anonymous user)", 401)
        if user.get("role") not in ("agent", "admin"):
            raise PermanentError(
                self.name, "the credentials belong to an end-user, not an agent or admin", 403
            )
        return f"{user.get('email') or user.get('name')} ({user.get('role')})"

    # -- tickets ---------------------------------------------------------------------------------
    async def open_ticket(
        self,
        conv: Conversation,
        first: SocialMessage,
        key: str,
        retry: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> TicketRef:
        return await self._create(first, key, retry, None, attachments)

    async def _create(
        self,
        msg: SocialMessage,
        key: str,
        retry: bool,
        followup_of: str | None,
        attachments: Sequence[Attachment],
    ) -> TicketRef:
        if retry:
            found = await self._call("GET", "/api/v2/tickets", params={"external_id": key})
            if found.get("tickets"):
                return TicketRef(self.name, str(found["tickets"][0]["id"]))
        requester = await self._upsert_user(msg)
        uploads = await self._upload(attachments)
        body = payloads.ticket_create(msg, requester, key, followup_of, uploads)
        created = await self._call("POST", "/api/v2/tickets", json=body, headers={"Idempotency-Key": key})
        return TicketRef(self.name, str(created["ticket"]["id"]))

    async def add_customer_message(
        self,
        ticket: TicketRef,
        msg: SocialMessage,
        key: str,
        retry: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> TicketRef:
        current = (await self._call("GET", f"/api/v2/tickets/{ticket.id}"))["ticket"]
        if current.get("status") == "closed":
            return await self._create(msg, key, retry, ticket.id, attachments)
        requester = await self._upsert_user(msg)
        reopen = current.get("status") in REOPEN_STATUSES
        if retry and await self._has_comment(ticket, requester, message_text(msg)):
            return ticket
        body = payloads.customer_comment(msg, requester, reopen, await self._upload(attachments))
        await self._call("PUT", f"/api/v2/tickets/{ticket.id}", json=body)
        return ticket

    async def _upload(self, attachments: Sequence[Attachment]) -> list[str]:
        """One upload per file; the tokens to name in the comment's `uploads`."""
        tokens = []
        for item in attachments:
            answer = await self._call(
                "POST",
                "/api/v2/uploads",
                params={"filename": item.filename},
                content=item.data,
                headers={"Content-Type": item.content_type},
            )
            token = (answer.get("upload") or {}).get("token")
            if not isinstance(token, str) or not token:
                raise PermanentError(self.name, "upload answered without upload.token")
            tokens.append(token)
        return tokens

    async def download_attachment(self, ref: AttachmentRef, max_bytes: int) -> Attachment:
        own = urlsplit(ref.url).netloc == urlsplit(self._base).netloc
        with transport_errors(ZENDESK_ERRORS):
            async with self._client.stream(
                "GET", ref.url, auth=self._auth if own else None, timeout=self._timeout, follow_redirects=True
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise_for_vendor(response, ZENDESK_ERRORS)
                chunks, total = [], 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise PermanentError(self.name, f"{ref.filename} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
        return Attachment(ref.filename, ref.content_type, b"".join(chunks))

    async def add_internal_note(self, ticket: TicketRef, text: str, key: str, retry: bool = False) -> None:
        if retry and await self._has_comment(ticket, await self._my_id(), text):
            return
        await self._call("PUT", f"/api/v2/tickets/{ticket.id}", json=payloads.internal_note(text))

    async def _upsert_user(self, msg: SocialMessage) -> int:
        answer = await self._call(
            "POST", "/api/v2/users/create_or_update", json=payloads.user_upsert(msg.author)
        )
        return int(answer["user"]["id"])

    async def _my_id(self) -> int:
        if self._me is None:
            self._me = int((await self._call("GET", "/api/v2/users/me"))["user"]["id"])
        return self._me

    async def _comments(self, ticket: TicketRef) -> dict[str, Any]:
        """All comments with their authors, following cursor pagination."""
        comments: list[Any] = []
        users: list[Any] = []
        params: dict[str, Any] | None = {"include": "users", "page[size]": 100}
        url = f"/api/v2/tickets/{ticket.id}/comments"
        while True:
            page = await self._call("GET", url, params=params)
            comments += page.get("comments", [])
            users += page.get("users", [])
            next_url = (
                (page.get("links") or {}).get("next") if (page.get("meta") or {}).get("has_more") else None
            )
            if not next_url:
                return {"comments": comments, "users": users}
            url, params = str(next_url).removeprefix(self._base), None

    async def _has_comment(self, ticket: TicketRef, author: int, body: str) -> bool:
        page = await self._comments(ticket)
        return any(c.get("author_id") == author and c.get("body") == body for c in page["comments"])

    async def agent_replies(self, ticket: TicketRef) -> list[AgentReply]:
        details = (await self._call("GET", f"/api/v2/tickets/{ticket.id}"))["ticket"]
        comments = await self._comments(ticket)
        return payloads.agent_replies(ticket, comments, list(details.get("tags") or []), await self._my_id())

    # -- care ------------------------------------------------------------------------------------
    async def update_ticket(
        self, ticket: TicketRef, update: TicketUpdate, key: str, retry: bool = False
    ) -> None:
        path = f"/api/v2/tickets/{ticket.id}"
        if update.tags:
            await self._call("PUT", f"{path}/tags", json={"tags": list(dict.fromkeys(update.tags))})
        changes: dict[str, Any] = {}
        for kind, name, attribute in (
            ("group", update.group, "group_id"),
            ("brand", update.brand, "brand_id"),
        ):
            if (found := self._maps.get(kind, name)) is not None:
                changes[attribute] = found
        if update.assignee is not None:
            if "@" in update.assignee:
                changes["assignee_email"] = update.assignee
            elif (agent := self._maps.get("assignee", update.assignee)) is not None:
                changes["assignee_id"] = agent
        if fields := self._maps.fields(update.fields):
            changes["custom_fields"] = [{"id": field, "value": value} for field, value in fields.items()]
        if update.priority is not None:
            current = (await self._call("GET", path))["ticket"].get("priority")
            if (priority := raised(current, update.priority, payloads.PRIORITIES)) is not None:
                changes["priority"] = priority
        if changes:
            await self._call("PUT", path, json={"ticket": changes})

    async def customer_history(
        self, customer: SocialUser, exclude: TicketRef | None = None, limit: int = 5
    ) -> list[PastTicket]:
        if limit <= 0:
            return []
        found = await self._call(
            "GET", "/api/v2/users/search", params={"external_id": payloads.user_external_id(customer)}
        )
        users = [u for u in found.get("users") or [] if isinstance(u, dict) and u.get("id")]
        if not users:
            return []
        page = await self._call(
            "GET",
            f"/api/v2/users/{int(users[0]['id'])}/tickets/requested",
            params={"sort_by": "created_at", "sort_order": "desc", "per_page": min(limit + 1, HISTORY_PAGE)},
        )
        return payloads.past_tickets(page.get("tickets"), exclude, limit)

    # -- webhooks --------------------------------------------------------------------------------
    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        webhook.verify(self._webhook_secret, headers, body, now, self._tolerance)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise MalformedRequest("body is not JSON") from None
        ticket_id = data.get("ticket_id") if isinstance(data, dict) else None
        if isinstance(ticket_id, int) and not isinstance(ticket_id, bool):
            ticket_id = str(ticket_id)
        if not isinstance(ticket_id, str) or not TICKET_ID.fullmatch(ticket_id):
            raise MalformedRequest('body must be {"ticket_id": "<numeric id>"}')
        # The invocation id names one delivery; without it, the signed timestamp tells two replies apart.
        key = headers.get(webhook.INVOCATION) or (headers.get(webhook.TIMESTAMP, "") + ":" + ticket_id)
        return WebhookNotice(key=key, ticket_ids=(ticket_id,))

    def webhook_answer(self, notice: WebhookNotice, accepted: int) -> WebhookAnswer:
        """Zendesk only needs a 2xx; the JSON counts show in its webhook activity log."""
        return json_answer(notice, accepted)

    async def provision(self, public_url: str, dry_run: bool, out: TextIO) -> None:
        await provision(self._call, public_url, dry_run, out, self._webhook_secret)
