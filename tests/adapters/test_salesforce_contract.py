"""Salesforce passes the helpdesk contract: this module only declares what is Salesforce's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sav_bridge_salesforce.helpdesk import QUOTA_WAIT
from sav_bridge_salesforce.payloads import tags_of
from sav_bridge_salesforce.sandbox import FakeSalesforce
from sav_bridge_salesforce.spec import to18

from sav_bridge.model import TicketRef
from sav_bridge.sandbox.base import FakeVendor
from sav_bridge.sandbox.faults import Fault
from sav_bridge.testing.contract import CARE_FIELD, CARE_GROUP, Declaration, HelpdeskContract, Route

#: The connected app's key, made for this run (Salesforce keeps the certificate, the gateway the key).
APP_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)
DATA = r"/services/data/v\d+\.\d"
QUEUE = to18("00G5g000004QUEU")
FIELD = "Product__c"
TAGS = "Sav_Bridge_Tags__c"


def salesforce(fake: FakeVendor) -> FakeSalesforce:
    if not isinstance(fake, FakeSalesforce):
        raise TypeError(f"expected the Salesforce fake, got {type(fake).__name__}")
    return fake


class SalesforceDeclaration(Declaration):
    plugin = "salesforce"
    config: ClassVar[Mapping[str, str]] = {
        "consumer_key": "3MVG9-sav-bridge-contract",
        "username": "sav-bridge@mabanque.fr",
        "private_key": APP_KEY,
        "organization_id": "00D5g000004ABCDEAA",
        "webhook_secret": "salesforce-webhook-secret-for-contract",
        "queues": f'{{"{CARE_GROUP}": "{QUEUE}"}}',
        "fields": f'{{"{CARE_FIELD}": "{FIELD}"}}',
    }
    bad_credentials: ClassVar[Mapping[str, str]] = {"consumer_key": "3MVG9-not-the-app"}
    create_ticket = Route("PATCH", DATA + r"/sobjects/Case/Sav_Bridge_Key__c/.+")
    add_note = Route("POST", DATA + r"/sobjects/CaseComment")
    credentials = Route("GET", DATA + r"/sobjects/User/\w+")
    # The JSON callout is signed and dated; outbound messages (token and org id) have tests of their own.
    signature_headers = ("x-sav-bridge-signature", "x-sav-bridge-timestamp")
    missing_ticket = "5005g000009ZZZZAAA"
    # Salesforce's quota 403 names no wait: the plugin's back-off is the wait.
    quota_wait = QUOTA_WAIT
    page_size = 20
    update_route = Route("PATCH", DATA + r"/sobjects/Case/\w+")
    history_route = Route("GET", DATA + r"/sobjects/Contact/X_User_Id__c/.+")
    care_group_id = QUEUE

    def prepare(self, fake: FakeVendor) -> None:
        salesforce(fake).page_size = self.page_size

    def quota_fault(self) -> Fault:
        return FakeSalesforce.limit_fault("GET", self.credentials.path)

    def ticket_ids(self, fake: FakeVendor) -> list[str]:
        return list(salesforce(fake).cases)

    def public_texts(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return salesforce(fake).public_texts(ticket.id)

    def private_texts(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return salesforce(fake).private_texts(ticket.id)

    def solve(self, fake: FakeVendor, ticket: TicketRef) -> None:
        salesforce(fake).close(ticket.id)

    def is_solved(self, fake: FakeVendor, ticket: TicketRef) -> bool:
        return salesforce(fake).is_closed(ticket.id)

    def agent_reply(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        org = salesforce(fake)
        org.agent_reply(ticket.id, org.add_user("Amélie Martin", "amelie@mabanque.fr"), text)

    def agent_private_note(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        org = salesforce(fake)
        org.add_comment(ticket.id, org.add_user("Bruno Petit", "bruno@mabanque.fr"), text, published=False)

    def customer_writes(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        org = salesforce(fake)  # from the customer portal: a published comment by a portal user
        customer = org.add_user("Claire Dupont", "claire@example.com", user_type="PowerCustomerSuccess")
        org.add_comment(ticket.id, customer, text, published=True)

    def signed_webhook(
        self, fake: FakeVendor, ticket: TicketRef, at: float, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        org = salesforce(fake)
        published = [c["Id"] for c in org.case_comments(ticket.id) if c["IsPublished"]]
        return org.flow_callout(ticket.id, published[-1] if published else None, secret=secret, at=at)

    def tags(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        return tags_of(salesforce(fake).cases[ticket.id][TAGS])

    def agent_tags(self, fake: FakeVendor, ticket: TicketRef, tag: str) -> None:
        case = salesforce(fake).cases[ticket.id]
        case[TAGS] = ";".join([*tags_of(case[TAGS]), tag])

    def priority(self, fake: FakeVendor, ticket: TicketRef) -> object:
        return salesforce(fake).cases[ticket.id]["Priority"]

    def group(self, fake: FakeVendor, ticket: TicketRef) -> object:
        return salesforce(fake).cases[ticket.id]["OwnerId"]

    def field(self, fake: FakeVendor, ticket: TicketRef) -> object:
        return salesforce(fake).cases[ticket.id].get(FIELD)


class TestSalesforceContract(HelpdeskContract):
    declaration = SalesforceDeclaration
