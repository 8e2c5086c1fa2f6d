"""Freshdesk's own care traps: tags replaced on update, a ticket listing limited to 30 days, numeric codes."""

from __future__ import annotations

import httpx
from sav_bridge_freshdesk.helpdesk import MAPS, FreshdeskHelpdesk

from sav_bridge.model import TicketUpdate
from sav_bridge.ticket_update import Mappings
from tests.adapters.test_freshdesk import KEY, SECRET, URL, USER, Desk

DAY = 86400.0


def with_assignees(desk: Desk, assignees: dict[str, int]) -> None:
    """The plugin rebuilt on the same fake with `freshdesk.assignees` set."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(desk.fake.handle))
    maps = Mappings(FreshdeskHelpdesk.name, {"assignee": assignees}, MAPS)
    desk.plugin = FreshdeskHelpdesk(client, URL, KEY, SECRET, clock=lambda: desk.now[0], mappings=maps)


async def test_the_fake_replaces_tags_as_freshdesk_does_so_the_plugin_sends_the_union() -> None:
    desk = Desk()
    ticket = await desk.open()
    desk.fake.tickets[int(ticket.id)]["tags"].append("vip_agent")
    await desk.plugin.update_ticket(ticket, TicketUpdate(tags=("sav_unhappy",)), "care.mood:1")
    sent = [r for r in desk.fake.requests if r.method == "PUT"]
    assert b'"tags":["sav_bridge","x_dm","vip_agent","sav_unhappy"]' in sent[-1].content.replace(b" ", b"")
    assert desk.fake.tickets[int(ticket.id)]["tags"] == ["sav_bridge", "x_dm", "vip_agent", "sav_unhappy"]
    before = len(desk.fake.requests)
    await desk.plugin.update_ticket(ticket, TicketUpdate(tags=("sav_unhappy",)), "care.mood:1", retry=True)
    assert [r.method for r in desk.fake.requests[before:]] == ["GET"], "nothing new: read, no write"


async def test_history_reaches_past_freshdesks_thirty_day_default() -> None:
    desk = Desk()
    old = await desk.open("Carte bloquée en mars")
    desk.now[0] += 90 * DAY
    latest = await desk.open("Carte bloquée encore", retry=False)
    stored = desk.fake.tickets[int(old.id)]
    stored["source"], stored["status"] = 1, 4
    plain = httpx.Client(transport=httpx.MockTransport(desk.fake.handle), auth=(KEY, "X"))
    requester = stored["requester_id"]
    listed = plain.get(f"{URL}/api/v2/tickets", params={"requester_id": requester}).json()
    assert [t["id"] for t in listed] == [int(latest.id)], (
        "the fake hides tickets older than 30 days by default"
    )
    history = await desk.plugin.customer_history(USER, exclude=latest)
    assert [(p.id, p.channel, p.status, p.subject) for p in history] == [
        (old.id, "email", "resolved", "Carte bloquée en mars")
    ]


async def test_assignee_by_email_or_name_and_no_brand() -> None:
    desk = Desk()
    agent = desk.fake.add_agent("Amélie Martin", "amelie@mabanque.fr")
    with_assignees(desk, {"amelie": agent})
    ticket = await desk.open()
    await desk.plugin.update_ticket(ticket, TicketUpdate(assignee="amelie", brand="carte-premium"), "care:1")
    assert desk.fake.tickets[int(ticket.id)]["responder_id"] == agent
    other = desk.fake.add_agent("Bruno Petit", "bruno@mabanque.fr")
    await desk.plugin.update_ticket(ticket, TicketUpdate(assignee="bruno@mabanque.fr"), "care:2")
    assert desk.fake.tickets[int(ticket.id)]["responder_id"] == other
    await desk.plugin.update_ticket(ticket, TicketUpdate(assignee="nobody@mabanque.fr"), "care:3")
    assert desk.fake.tickets[int(ticket.id)]["responder_id"] == other, "an unknown e-mail is skipped"
    assert not desk.fake.violations
