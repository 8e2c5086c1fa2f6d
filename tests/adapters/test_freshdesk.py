"""Freshdesk plugin specifics: the reply endpoint never used, the token header, dedup keys, paging, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sav_bridge_freshdesk import payloads, webhook
from sav_bridge_freshdesk.helpdesk import FreshdeskHelpdesk
from sav_bridge_freshdesk.sandbox import FakeFreshdesk

from sav_bridge.errors import PermanentError, RetryableError, Unauthorized
from sav_bridge.helpdesks import load_helpdesk
from sav_bridge.model import Audience, Conversation, MessageKind, SocialMessage, SocialUser, TicketRef
from sav_bridge.sandbox import Fault
from tests.harness import CLAIRE, Gateway, start_gateway

URL = "https://mabanque.freshdesk.com"
KEY = "freshdesk-api-key-for-tests"
SECRET = "freshdesk-webhook-secret-for-tests"
USER = SocialUser("2100000000000000001", "claire_dupont", "Claire Dupont")
REPLY_ROUTE = "POST /api/v2/tickets/{id}/reply"


class Desk:
    """The plugin on its fake, with a clock the test moves."""

    def __init__(self, fake: FakeFreshdesk | None = None) -> None:
        self.now = [1_700_000_000.0]
        self.fake = fake or FakeFreshdesk(KEY, SECRET, lambda: self.now[0], URL)
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.fake.handle))
        self.plugin = FreshdeskHelpdesk(client, URL, KEY, SECRET, clock=lambda: self.now[0])

    def message(self, text: str, number: int = 1, kind: MessageKind = MessageKind.DM) -> SocialMessage:
        return SocialMessage("x", "1500000000000000001", f"190000000000000000{number}", kind, USER, text,
                             "2024-05-02T09:00:00.000Z", f"x:dm:1:{USER.id}")  # fmt: skip

    async def open(self, text: str = "Ma carte est bloquée", retry: bool = False) -> TicketRef:
        conv = Conversation(f"x:dm:1:{USER.id}", "x", Audience.DM, USER)
        return await self.plugin.open_ticket(conv, self.message(text), "x.message:dm:1", retry=retry)


def test_plugin_and_fake_are_found_through_their_entry_points() -> None:
    assert load_helpdesk("freshdesk") is FreshdeskHelpdesk
    assert FreshdeskHelpdesk.config_schema()["properties"]["api_key"]["x-secret"] is True


async def test_ticket_and_contact_carry_the_x_identity_and_our_key() -> None:
    desk = Desk()
    ticket = await desk.open()
    again = await desk.plugin.add_customer_message(ticket, desk.message("Toujours rien", 2), "k2")
    stored = desk.fake.tickets[int(ticket.id)]
    contacts = [c for c in desk.fake.contacts.values() if not c["helpdesk_agent"]]
    assert again == ticket and len(contacts) == 1, "one contact per X user, matched on unique_external_id"
    assert (contacts[0]["unique_external_id"], contacts[0]["twitter_id"]) == (f"x:{USER.id}", "claire_dupont")
    assert stored["requester_id"] == contacts[0]["id"]
    assert (stored["tags"], stored["source"], stored["status"]) == (["sav_bridge", "x_dm"], 2, 2)
    assert stored["custom_fields"][payloads.KEY_FIELD] == "x.message:dm:1"


async def test_customer_messages_and_our_notes_never_use_the_reply_endpoint() -> None:
    desk = Desk()
    ticket = await desk.open()
    desk.fake.tickets[int(ticket.id)]["status"] = 5  # closed
    await desk.plugin.add_customer_message(ticket, desk.message("Toujours bloquée", 2), "k2")
    await desk.plugin.add_customer_message(ticket, desk.message("Toujours bloquée", 2), "k2", retry=True)
    await desk.plugin.add_internal_note(ticket, "Publié sur X", "n1")
    assert desk.fake.received()[REPLY_ROUTE] == 0 and desk.fake.emails_sent == []
    follow_up, note = desk.fake.conversations[int(ticket.id)]
    requester = desk.fake.tickets[int(ticket.id)]["requester_id"]
    assert (follow_up["incoming"], follow_up["private"], follow_up["user_id"]) == (True, False, requester)
    assert (note["incoming"], note["private"], note["user_id"]) == (False, True, desk.fake.me)
    assert desk.fake.tickets[int(ticket.id)]["status"] == 2, "a closed ticket is reopened"


async def test_a_contact_created_meanwhile_is_found_after_freshdesk_refuses_a_duplicate() -> None:
    desk = Desk()
    await desk.open()
    # Another worker's lookup saw no contact yet: Freshdesk answers the second create with 409.
    desk.fake.faults.add(Fault("GET", r"/api/v2/contacts", 200, body="[]"))
    await desk.plugin.add_customer_message(await desk.open(retry=True), desk.message("Encore", 2), "k2")
    assert sum(not c["helpdesk_agent"] for c in desk.fake.contacts.values()) == 1
    assert desk.fake.received()["POST /api/v2/contacts"] == 2 and len(desk.fake.tickets) == 1


async def test_a_missing_key_field_is_a_permanent_error_naming_it() -> None:
    desk = Desk(FakeFreshdesk(KEY, SECRET, url=URL, custom_fields=()))
    with pytest.raises(PermanentError, match=payloads.KEY_FIELD):
        await desk.open()


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({}, "missing"),
        ({webhook.TOKEN_HEADER: "guess"}, "does not match"),
        ({"authorization": SECRET}, "missing"),
    ],
)
def test_the_token_header_is_required_and_compared(headers: dict[str, str], match: str) -> None:
    with pytest.raises(Unauthorized, match=match):
        webhook.verify(SECRET, headers)
    webhook.verify(SECRET, {webhook.TOKEN_HEADER: SECRET})


def test_a_second_reply_on_the_same_ticket_is_never_a_duplicate_of_the_first() -> None:
    plugin = Desk().plugin
    first = plugin.parse_webhook({}, b'{"ticket_id": 42}')
    second = plugin.parse_webhook({}, b'{"ticket_id": 42}')
    assert first.ticket_ids == second.ticket_ids == ("42",) and first.key != second.key
    named = [plugin.parse_webhook({}, b'{"ticket_id": "42", "conversation_id": 7}') for _ in range(2)]
    assert named[0].key == named[1].key == "42:7", "a repeat naming its conversation is one notice"


async def test_agent_replies_are_read_from_every_page_of_conversations() -> None:
    desk = Desk()
    ticket = await desk.open()
    agent = desk.fake.add_agent("Amélie Martin", "amelie@mabanque.fr")
    requester = desk.fake.tickets[int(ticket.id)]["requester_id"]
    for n in range(230):
        desk.fake.add_conversation(ticket.id, requester, f"message {n}", private=False, incoming=True)
    desk.fake.agent_reply(ticket.id, agent, "Bonjour Claire, c'est débloqué")
    replies = await desk.plugin.agent_replies(ticket)
    assert [(r.body, r.agent_name, r.agent_email) for r in replies] == [
        ("Bonjour Claire, c'est débloqué", "Amélie Martin", "amelie@mabanque.fr")
    ]
    pages = [r.url.params["page"] for r in desk.fake.calls("GET", r"/api/v2/tickets/\d+/conversations")]
    assert pages == ["1", "2", "3"]


async def test_a_429_without_retry_after_waits_a_minute_and_a_spent_budget_holds_calls() -> None:
    desk = Desk()
    desk.fake.faults.add(Fault("GET", r"/api/v2/agents/me", 429, body='{"message": "slow down"}', times=3))
    with pytest.raises(RetryableError) as caught:
        await desk.plugin.check_credentials()
    assert caught.value.retry_after == 60
    desk.fake.calls_per_minute = desk.fake.used_this_minute() + 1  # the next answer says Remaining: 0
    await desk.plugin.check_credentials()
    sent = len(desk.fake.requests)
    with pytest.raises(RetryableError, match="X-RateLimit-Remaining") as held:
        await desk.plugin.check_credentials()
    assert len(desk.fake.requests) == sent and 0 < (held.value.retry_after or 0) <= 60


# -- end to end through the gateway ----------------------------------------------------------------
@pytest.fixture
async def freshdesk_gateway(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gw = await start_gateway(
        sqlite_url,
        vendor_dir,
        SAV_BRIDGE_HELPDESK="freshdesk",
        SAV_BRIDGE_FRESHDESK__URL=URL,
        SAV_BRIDGE_FRESHDESK__API_KEY=KEY,
        SAV_BRIDGE_FRESHDESK__WEBHOOK_SECRET=SECRET,
    )
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()
    assert gw.sandbox.violations == [], "requests broke the vendors' contracts"


def account(gw: Gateway) -> FakeFreshdesk:
    fake = gw.sandbox.helpdesk
    assert isinstance(fake, FakeFreshdesk)
    return fake


async def ring(gw: Gateway, ticket_id: int, secret: str = SECRET) -> httpx.Response:
    headers, body = account(gw).doorbell(ticket_id, secret)
    return await gw.client.post("/webhooks/freshdesk", content=body, headers=headers)


async def test_a_mention_becomes_a_ticket_and_each_agent_reply_a_post(freshdesk_gateway: Gateway) -> None:
    gw, fake = freshdesk_gateway, account(freshdesk_gateway)
    assert (await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée"))).status_code == 200
    await gw.drain()
    [ticket_id] = fake.tickets
    assert fake.tickets[ticket_id]["tags"] == ["sav_bridge", "x_mention"]
    agent = fake.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    fake.agent_reply(ticket_id, agent, "Bonjour Claire, nous regardons.")
    assert (await ring(gw, ticket_id, "wrong-secret")).status_code == 401
    assert (await ring(gw, ticket_id)).status_code == 200
    await gw.settle()
    fake.agent_reply(ticket_id, agent, "C'est débloqué.")
    assert (await ring(gw, ticket_id)).json()["accepted"] == 1, "the second reply's notice is not a repeat"
    await gw.settle()
    posts = [p.text for p in gw.x.brand_posts]
    assert len(posts) == 2 and "Bonjour Claire, nous regardons." in posts[0] and "C'est débloqué." in posts[1]
    assert fake.received()[REPLY_ROUTE] == 0
