"""Salesforce's own care manners: a picklist priority (an org's Critical), tags in a text field, queues."""

from __future__ import annotations

from sav_bridge_salesforce.helpdesk import SalesforceHelpdesk
from sav_bridge_salesforce.sandbox import FakeSalesforce
from sav_bridge_salesforce.spec import to18

from sav_bridge.model import TicketUpdate
from sav_bridge.testing.contract import CARE_GROUP, CUSTOMER, Kit, build_kit
from tests.adapters.test_salesforce_contract import QUEUE, TAGS, SalesforceDeclaration

AMELIE = to18("0055g00000AMELI")


def kit(**overrides: str) -> Kit:
    return build_kit(SalesforceDeclaration(), overrides=overrides)


def org(of: Kit) -> FakeSalesforce:
    assert isinstance(of.fake, FakeSalesforce)
    return of.fake


async def test_an_orgs_critical_is_reached_and_never_lowered() -> None:
    care = kit(priorities='{"urgent": "Critical"}')
    org(care).priorities = ("Low", "Medium", "High", "Critical")
    async with care.client:
        ticket = await care.open()
        await care.helpdesk.update_ticket(ticket, TicketUpdate(priority="urgent"), "care:1")  # type: ignore[attr-defined]
        assert org(care).cases[ticket.id]["Priority"] == "Critical"
        await care.helpdesk.update_ticket(ticket, TicketUpdate(priority="high"), "care:2")  # type: ignore[attr-defined]
        assert org(care).cases[ticket.id]["Priority"] == "Critical"
        org(care).cases[ticket.id]["Priority"] = "Escalated"  # a value the section maps to no level
        await care.helpdesk.update_ticket(ticket, TicketUpdate(priority="urgent"), "care:3")  # type: ignore[attr-defined]
        assert org(care).cases[ticket.id]["Priority"] == "Escalated", "an unknown value may rank higher: kept"
    assert org(care).violations == []


async def test_the_default_picklist_refuses_what_the_org_lacks() -> None:
    care = kit(priorities='{"urgent": "Critical"}')
    async with care.client:
        ticket = await care.open()
        caught = None
        try:
            await care.helpdesk.update_ticket(ticket, TicketUpdate(priority="urgent"), "care:1")  # type: ignore[attr-defined]
        except Exception as exc:  # the vendor's refusal, whatever its class
            caught = exc
    assert caught is not None and "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in str(caught)


async def test_tags_are_skipped_without_a_tags_field_and_kept_within_255_characters() -> None:
    care = kit()
    # tags_field: null (the environment cannot say null: the section as a YAML file would give it)
    section = {
        **SalesforceDeclaration.config,
        "queues": {CARE_GROUP: QUEUE},
        "fields": {},
        "tags_field": None,
    }
    plugin = SalesforceHelpdesk(care.client, section, clock=lambda: care.now[0])
    async with care.client:
        ticket = await care.open()
        await plugin.update_ticket(ticket, TicketUpdate(tags=("sav_unhappy",), group=CARE_GROUP), "care:1")
        case = org(care).cases[ticket.id]
        assert (case[TAGS], case["OwnerId"]) == (None, QUEUE), "no tags, the rest applied"
    full = kit()
    async with full.client:
        ticket = await full.open()
        many = tuple(f"tag_{n:03d}_{'x' * 20}" for n in range(12))
        await full.helpdesk.update_ticket(ticket, TicketUpdate(tags=many), "care:1")  # type: ignore[attr-defined]
        stored = org(full).cases[ticket.id][TAGS]
        assert len(stored) <= 255 and stored.split(";") == list(many[: len(stored.split(";"))])


async def test_an_assignee_owns_the_case_over_the_queue_and_history_speaks_words() -> None:
    care = kit(assignees=f'{{"amelie": "{AMELIE}"}}')
    agent = org(care).users[org(care).api_user] | {"Id": AMELIE, "Name": "Amélie Martin"}
    org(care).users[AMELIE] = agent  # the org's agent the section names
    async with care.client:
        first = await care.open()
        org(care).cases[first.id].update(Status="Closed", Origin="Phone")
        care.now[0] += 60
        latest = await care.open("Toujours bloquée", "x.message:dm:3")
        await care.helpdesk.update_ticket(latest, TicketUpdate(group=CARE_GROUP, assignee="amelie"), "care:1")  # type: ignore[attr-defined]
        assert org(care).cases[latest.id]["OwnerId"] == AMELIE
        history = await care.helpdesk.customer_history(CUSTOMER, exclude=latest)  # type: ignore[attr-defined]
    assert [(p.id, p.status, p.channel) for p in history] == [(first.id, "closed", "phone")]
    assert history[0].created_at.endswith("Z") and "+0000" not in history[0].created_at
    assert org(care).violations == []
