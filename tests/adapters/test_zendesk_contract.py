"""Zendesk passes the helpdesk contract: this module only declares what is Zendesk's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from sav_bridge_zendesk.sandbox import FakeZendesk

from sav_bridge.model import TicketRef
from sav_bridge.sandbox.base import FakeVendor
from sav_bridge.sandbox.faults import Fault
from sav_bridge.testing.contract import (
    CARE_FIELD,
    CARE_GROUP,
    LONG_WAIT,
    Declaration,
    HelpdeskContract,
    Route,
)

GROUP_ID = 360001234
FIELD_ID = 360005678


def zendesk(fake: FakeVendor) -> FakeZendesk:
    if not isinstance(fake, FakeZendesk):
        raise TypeError(f"expected the Zendesk fake, got {type(fake).__name__}")
    return fake


class ZendeskDeclaration(Declaration):
    plugin = "zendesk"
    config: ClassVar[Mapping[str, str]] = {
        "url": "https://mabanque.zendesk.com",
        "email": "api@mabanque.fr",
        "api_token": "zendesk-api-token-for-contract",
        "webhook_secret": "zendesk-webhook-secret-for-contract",
        "groups": f'{{"{CARE_GROUP}": {GROUP_ID}}}',
        "fields": f'{{"{CARE_FIELD}": {FIELD_ID}}}',
    }
    bad_credentials: ClassVar[Mapping[str, str]] = {"api_token": "revoked-token"}
    create_ticket = Route("POST", r"/api/v2/tickets")
    add_note = Route("PUT", r"/api/v2/tickets/\d+")
    credentials = Route("GET", r"/api/v2/users/me")
    signature_headers = ("x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp")
    update_route = Route("PUT", r"/api/v2/tickets/\d+/tags")
    history_route = Route("GET", r"/api/v2/users/search")
    care_group_id = GROUP_ID

    def quota_fault(self) -> Fault:
        # Zendesk's account and endpoint limits: 429, the OAS's body, the wait in Retry-After.
        body = '{"errors":[{"code":"RateLimitExceeded","status":"429","title":"Rate limit exceeded."}]}'
        return Fault("GET", self.credentials.path, 429, {"Retry-After": str(LONG_WAIT)}, body)

    def ticket_ids(self, fake: FakeVendor) -> list[str]:
        return [str(t) for t in zendesk(fake).tickets]

    def public_texts(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return [str(c["body"]) for c in zendesk(fake).public_comments(ticket.id)]

    def private_texts(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return zendesk(fake).notes(ticket.id)

    def solve(self, fake: FakeVendor, ticket: TicketRef) -> None:
        zendesk(fake).set_status(ticket.id, "solved")

    def is_solved(self, fake: FakeVendor, ticket: TicketRef) -> bool:
        return zendesk(fake).tickets[int(ticket.id)]["status"] in ("solved", "closed")

    def agent_reply(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        account = zendesk(fake)
        account.agent_comment(ticket.id, account.add_agent("Amélie Martin", "amelie@mabanque.fr"), text)

    def agent_private_note(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        account = zendesk(fake)
        agent = account.add_agent("Bruno Petit", "bruno@mabanque.fr")
        account.agent_comment(ticket.id, agent, text, public=False)

    def customer_writes(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        account = zendesk(fake)
        account.agent_comment(ticket.id, account.tickets[int(ticket.id)]["requester_id"], text)

    def signed_webhook(
        self, fake: FakeVendor, ticket: TicketRef, at: float, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        return zendesk(fake).doorbell(ticket.id, secret, at)

    def tags(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return list(zendesk(fake).tickets[int(ticket.id)]["tags"])

    def agent_tags(self, fake: FakeVendor, ticket: TicketRef, tag: str) -> None:
        zendesk(fake).add_tag(ticket.id, tag)

    def priority(self, fake: FakeVendor, ticket: TicketRef) -> object:
        return zendesk(fake).tickets[int(ticket.id)]["priority"]

    def group(self, fake: FakeVendor, ticket: TicketRef) -> object:
        return zendesk(fake).tickets[int(ticket.id)]["group_id"]

    def field(self, fake: FakeVendor, ticket: TicketRef) -> object:
        fields = zendesk(fake).tickets[int(ticket.id)]["custom_fields"]
        return next((f["value"] for f in fields if f["id"] == FIELD_ID), None)


class TestZendeskContract(HelpdeskContract):
    declaration = ZendeskDeclaration
