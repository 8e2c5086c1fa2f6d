"""The Freshdesk side of `make demo HELPDESK=freshdesk`: the account the story plays on, and what it shows.

Found by the core's demo through the entry point `freshdesk` in group `sav_bridge.demos`.
"""

from __future__ import annotations

from typing import ClassVar

from sav_bridge.sandbox.base import FakeVendor
from sav_bridge_freshdesk.sandbox import FakeFreshdesk

#: Freshdesk's ticket statuses, as its interface names them.
STATUSES = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}


class FreshdeskStage:
    vendor: ClassVar[str] = "Freshdesk"
    #: The `freshdesk` section of the demo's configuration, as environment variables.
    environment: ClassVar[dict[str, str]] = {
        "SAV_BRIDGE_FRESHDESK__URL": "https://mabanque.freshdesk.com",
        "SAV_BRIDGE_FRESHDESK__API_KEY": "demo-api-key",
        "SAV_BRIDGE_FRESHDESK__WEBHOOK_SECRET": "demo-webhook-token-0123456789",
    }

    def __init__(self, fake: FakeVendor) -> None:
        if not isinstance(fake, FakeFreshdesk):
            raise TypeError("the Freshdesk demo plays on the Freshdesk sandbox")
        self.fake = fake

    def add_agent(self, name: str, email: str) -> str:
        return str(self.fake.add_agent(name, email))

    def ticket_ids(self) -> list[str]:
        """Every ticket, oldest first."""
        return [str(t) for t in sorted(self.fake.tickets)]

    def ticket_line(self, ticket_id: str) -> str:
        ticket = self.fake.tickets[int(ticket_id)]
        requester = self.fake.contacts[ticket["requester_id"]]
        status = STATUSES.get(ticket["status"], str(ticket["status"]))
        return (f"Freshdesk ticket #{ticket_id} [{status}] «{ticket['subject']}» requester {requester['name']} "
                f"({requester['unique_external_id']}), tags {', '.join(ticket['tags'])}")  # fmt: skip

    def last_customer_message(self, ticket_id: str) -> str:
        return self.fake.public_texts(ticket_id)[-1]

    def notes(self, ticket_id: str) -> list[str]:
        return self.fake.private_texts(ticket_id)

    def agent_replies(self, ticket_id: str, agent: str, text: str) -> tuple[dict[str, str], bytes]:
        """An agent's reply in Freshdesk, and the request the README's automation rule then sends us."""
        self.fake.agent_reply(ticket_id, int(agent), text)
        return self.fake.doorbell(ticket_id)
