"""Zendesk's own care traps: `additional_tags` ignored on a single ticket's update, an agent by e-mail."""

from __future__ import annotations

from sav_bridge_zendesk.sandbox import FakeZendesk

from sav_bridge.model import TicketUpdate
from sav_bridge.testing.contract import Kit, build_kit
from tests.adapters.test_zendesk_contract import ZendeskDeclaration


def account(kit: Kit) -> FakeZendesk:
    assert isinstance(kit.fake, FakeZendesk)
    return kit.fake


async def test_the_fake_ignores_additional_tags_on_one_ticket_as_zendesk_documents() -> None:
    zendesk = build_kit(ZendeskDeclaration())
    async with zendesk.client:
        ticket = await zendesk.open()
        answer = await zendesk.client.put(
            f"{ZendeskDeclaration.config['url']}/api/v2/tickets/{ticket.id}",
            json={"ticket": {"additional_tags": ["sav_unhappy"]}},
            auth=(f"{ZendeskDeclaration.config['email']}/token", ZendeskDeclaration.config["api_token"]),
        )
        assert answer.status_code == 200
        assert account(zendesk).tickets[int(ticket.id)]["tags"] == ["sav_bridge", "x_dm"]
        await zendesk.helpdesk.update_ticket(ticket, TicketUpdate(tags=("sav_unhappy",)), "care:1")  # type: ignore[attr-defined]
        assert account(zendesk).tickets[int(ticket.id)]["tags"] == ["sav_bridge", "x_dm", "sav_unhappy"]


async def test_an_agent_named_by_email_is_assigned_and_no_read_without_a_priority() -> None:
    zendesk = build_kit(ZendeskDeclaration())
    agent = account(zendesk).add_agent("Amélie Martin", "amelie@mabanque.fr")
    async with zendesk.client:
        ticket = await zendesk.open()
        before = len(zendesk.sent)
        await zendesk.helpdesk.update_ticket(ticket, TicketUpdate(assignee="amelie@mabanque.fr"), "care:1")  # type: ignore[attr-defined]
        assert [r.method for r in zendesk.sent[before:]] == ["PUT"]
    assert account(zendesk).tickets[int(ticket.id)]["assignee_id"] == agent
    assert account(zendesk).violations == []
