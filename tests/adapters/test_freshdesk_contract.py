"""Freshdesk passes the helpdesk contract: this module only declares what is Freshdesk's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from sav_bridge_freshdesk.sandbox import FakeFreshdesk

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

GROUP_ID = 43000123
FIELD = "cf_product"


def freshdesk(fake: FakeVendor) -> FakeFreshdesk:
    if not isinstance(fake, FakeFreshdesk):
        raise TypeError(f"expected the Freshdesk fake, got {type(fake).__name__}")
    return fake


class FreshdeskDeclaration(Declaration):
    plugin = "freshdesk"
    config: ClassVar[Mapping[str, str]] = {
        "url": "https://mabanque.freshdesk.com",
        "api_key": "freshdesk-api-key-for-contract",
        "webhook_secret": "freshdesk-webhook-secret-for-contract",
        "groups": f'{{"{CARE_GROUP}": {GROUP_ID}}}',
        "fields": f'{{"{CARE_FIELD}": "{FIELD}"}}',
    }
    bad_credentials: ClassVar[Mapping[str, str]] = {"api_key": "revoked-key"}
    create_ticket = Route("POST", r"/api/v2/tickets")
    add_note = Route("POST", r"/api/v2/tickets/\d+/notes")
    credentials = Route("GET", r"/api/v2/agents/me")
    signature_headers = ("x-sav-bridge-token",)
    # Freshdesk signs nothing: the automation rule's token header proves the sender, not the time or body.
    webhook_refusals = ("forged", "unsigned")
    update_route = Route("PUT", r"/api/v2/tickets/\d+")
    history_route = Route("GET", r"/api/v2/contacts")
    care_group_id = GROUP_ID

    def quota_fault(self) -> Fault:
        # Freshdesk's per-minute account limit: 429, the wait in Retry-After, the budget in X-RateLimit-*.
        headers = {"Retry-After": str(LONG_WAIT), "X-RateLimit-Total": "400", "X-RateLimit-Remaining": "0"}
        return Fault("GET", self.credentials.path, 429, headers, '{"message": "rate limit exceeded"}')

    def ticket_ids(self, fake: FakeVendor) -> list[str]:
        return [str(t) for t in freshdesk(fake).tickets]

    def public_texts(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return freshdesk(fake).public_texts(ticket.id)

    def private_texts(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return freshdesk(fake).private_texts(ticket.id)

    def solve(self, fake: FakeVendor, ticket: TicketRef) -> None:
        freshdesk(fake).tickets[int(ticket.id)]["status"] = 4

    def is_solved(self, fake: FakeVendor, ticket: TicketRef) -> bool:
        return freshdesk(fake).tickets[int(ticket.id)]["status"] in (4, 5)

    def agent_reply(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        account = freshdesk(fake)
        account.agent_reply(ticket.id, account.add_agent("Amélie Martin", "amelie@mabanque.fr"), text)

    def agent_private_note(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        account = freshdesk(fake)
        agent = account.add_agent("Bruno Petit", "bruno@mabanque.fr")
        account.add_conversation(ticket.id, agent, text, private=True, incoming=False)

    def customer_writes(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        account = freshdesk(fake)
        requester = account.tickets[int(ticket.id)]["requester_id"]
        account.add_conversation(ticket.id, requester, text, private=False, incoming=True, source=8)

    def signed_webhook(
        self, fake: FakeVendor, ticket: TicketRef, at: float, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        return freshdesk(fake).doorbell(ticket.id, secret)

    def tags(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return list(freshdesk(fake).tickets[int(ticket.id)]["tags"])

    def agent_tags(self, fake: FakeVendor, ticket: TicketRef, tag: str) -> None:
        freshdesk(fake).tickets[int(ticket.id)]["tags"].append(tag)

    def priority(self, fake: FakeVendor, ticket: TicketRef) -> object:
        return freshdesk(fake).tickets[int(ticket.id)]["priority"]

    def group(self, fake: FakeVendor, ticket: TicketRef) -> object:
        return freshdesk(fake).tickets[int(ticket.id)]["group_id"]

    def field(self, fake: FakeVendor, ticket: TicketRef) -> object:
        return freshdesk(fake).tickets[int(ticket.id)]["custom_fields"].get(FIELD)


class TestFreshdeskContract(HelpdeskContract):
    declaration = FreshdeskDeclaration
