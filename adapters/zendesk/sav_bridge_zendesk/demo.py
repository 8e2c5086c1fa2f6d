"""The Zendesk side of `make demo`: the account the story plays on, and what it shows of it.

Found by the core's demo through the entry point `zendesk` in group `sav_bridge.demos`.
"""

from __future__ import annotations

from typing import ClassVar

from sav_bridge.sandbox.base import FakeVendor
from sav_bridge_zendesk.sandbox import FakeZendesk


class ZendeskStage:
    vendor: ClassVar[str] = "Zendesk"
    #: The `zendesk` section of the demo's configuration, as environment variables.
    environment: ClassVar[dict[str, str]] = {
        "SAV_BRIDGE_ZENDESK__URL": "https://mabanque.zendesk.com",
        "SAV_BRIDGE_ZENDESK__EMAIL": "sav-bridge@mabanque.fr",
        "SAV_BRIDGE_ZENDESK__API_TOKEN": "demo-api-token",
        "SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET": "demo-webhook-secret",
    }

    def __init__(self, fake: FakeVendor) -> None:
        if not isinstance(fake, FakeZendesk):
            raise TypeError("the Zendesk demo plays on the Zendesk sandbox")
        self.fake = fake

    def add_agent(self, name: str, email: str) -> str:
        return str(self.fake.add_agent(name, email))

    def ticket_ids(self) -> list[str]:
        """Every ticket, oldest first."""
        return [str(t) for t in sorted(self.fake.tickets)]

    def ticket_line(self, ticket_id: str) -> str:
        ticket = self.fake.tickets[int(ticket_id)]
        requester = self.fake.users[ticket["requester_id"]]
        return (f"Zendesk ticket #{ticket_id} [{ticket['status']}] «{ticket['subject']}» requester "
                f"{requester['name']} ({requester['external_id']}), priority {ticket.get('priority') or '-'}, "
                f"tags {', '.join(ticket['tags'])}")  # fmt: skip

    def last_customer_message(self, ticket_id: str) -> str:
        body: str = self.fake.public_comments(ticket_id)[-1]["body"]
        return body

    def notes(self, ticket_id: str) -> list[str]:
        return self.fake.notes(ticket_id)

    def agent_replies(self, ticket_id: str, agent: str, text: str) -> tuple[dict[str, str], bytes]:
        """An agent's public reply in the Zendesk UI, and the signed request its trigger then sends us."""
        self.fake.agent_comment(ticket_id, int(agent), text)
        return self.fake.doorbell(ticket_id)
