"""The Salesforce side of `make demo HELPDESK=salesforce`: the org the story plays on, and what it shows.

Found by the core's demo through the entry point `salesforce` in group `sav_bridge.demos`. The demo's
connected-app key is made when this module is first imported: the demo keeps no key in the repository.
Agents' replies ring the gateway as Salesforce's outbound messages do, the token in the URL.
"""

from __future__ import annotations

from typing import ClassVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sav_bridge.sandbox.base import FakeVendor
from sav_bridge_salesforce.sandbox import FakeSalesforce

WEBHOOK_SECRET = "demo-outbound-token-0123456789"
_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)


class SalesforceStage:
    vendor: ClassVar[str] = "Salesforce"
    #: The `salesforce` section of the demo's configuration, as environment variables.
    environment: ClassVar[dict[str, str]] = {
        "SAV_BRIDGE_SALESFORCE__CONSUMER_KEY": "3MVG9-demo-consumer-key",
        "SAV_BRIDGE_SALESFORCE__USERNAME": "sav-bridge@mabanque.fr",
        "SAV_BRIDGE_SALESFORCE__PRIVATE_KEY": _KEY,
        "SAV_BRIDGE_SALESFORCE__ORGANIZATION_ID": "00D5g000004MaBqEAA",
        "SAV_BRIDGE_SALESFORCE__WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    #: The outbound message's endpoint URL carries the token (`?token=`).
    webhook_query: ClassVar[dict[str, str]] = {"token": WEBHOOK_SECRET}

    def __init__(self, fake: FakeVendor) -> None:
        if not isinstance(fake, FakeSalesforce):
            raise TypeError("the Salesforce demo plays on the Salesforce sandbox")
        self.fake = fake

    def add_agent(self, name: str, email: str) -> str:
        return self.fake.add_user(name, email)

    def ticket_ids(self) -> list[str]:
        """Every case, oldest first."""
        return list(self.fake.cases)

    def ticket_line(self, ticket_id: str) -> str:
        case = self.fake.cases[ticket_id]
        contact = self.fake.contacts.get(case.get("ContactId") or "", {})
        external = contact.get(self.fake.external_ids["Contact"])
        return (f"Salesforce case {case['CaseNumber']} ({ticket_id}) [{case['Status']}] «{case['Subject']}» "
                f"contact {contact.get('Name')} (X user {external}), origin {case.get('Origin')}")  # fmt: skip

    def last_customer_message(self, ticket_id: str) -> str:
        return self.fake.public_texts(ticket_id)[-1]

    def notes(self, ticket_id: str) -> list[str]:
        return self.fake.private_texts(ticket_id)

    def agent_replies(self, ticket_id: str, agent: str, text: str) -> tuple[dict[str, str], bytes]:
        """An agent's published comment, and the outbound message Salesforce then sends us."""
        comment = self.fake.agent_reply(ticket_id, agent, text)
        return self.fake.outbound_message([comment])
