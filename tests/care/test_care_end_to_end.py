"""Social care through the sandboxes, as a head of customer care would check it: a mention at night gets
the away DM with the right reopening time; an angry repeat complainer's ticket is raised and explained; a
routing rule sends "carte bloquée" to the cards group; a new conversation starts with the customer's
history; the watch raises a ticket nearing its first-response target; personal data posted in public is
tagged and the agent told to move to DM."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.harness import CLAIRE, MARC, Gateway, start_gateway

PARIS = ZoneInfo("Europe/Paris")
CARDS_GROUP = 360000111
CARE = f"""
care:
  team: {{fr: "L'équipe MaBanque", en: "The MaBanque team"}}
  signature: " ^SAV"
  hours:
    timezone: Europe/Paris
    weekly: {{mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"], thu: ["09:00-18:00"],
             fri: ["09:00-18:00"], sat: ["09:00-12:00"], sun: []}}
    holidays: {{country: FR}}
  routing:
    - name: cartes
      when: {{words: ["carte bloquée", "carte perdue"]}}
      then: {{group: cards, tags: [cartes]}}
zendesk:
  groups: {{cards: {CARDS_GROUP}}}
"""


def paris(*args: int) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


@pytest.fixture
async def care_gateway(database_url: str, vendor_dir: Path | None, tmp_path: Path) -> AsyncIterator[Gateway]:
    config = tmp_path / "config.yaml"
    config.write_text(CARE, encoding="utf-8")
    gw = await start_gateway(database_url, vendor_dir, SAV_BRIDGE_CONFIG=str(config))
    gw.zendesk.groups.add(CARDS_GROUP)
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()


async def test_a_mention_at_night_gets_the_away_dm_with_the_reopening_time(care_gateway: Gateway) -> None:
    gw = care_gateway
    gw.clock.now = paris(2026, 11, 27, 22, 30)  # a Friday night
    first = gw.x.customer_post(CLAIRE, "@MaBanque bonjour, mon virement n'apparaît pas")
    await gw.post_x(first)
    await gw.settle()
    ticket_id = gw.only_ticket()
    [dm] = gw.x.dms
    assert dm["to"] == CLAIRE.id
    assert "revient demain à 9 h" in dm["text"] and dm["text"].endswith(" ^SAV")
    assert gw.x.brand_posts == []  # by DM by default, never publicly
    assert "sav_after_hours" in gw.zendesk.tickets[ticket_id]["tags"]
    notes = "\n".join(gw.zendesk.notes(ticket_id))
    assert "Automatic acknowledgement sent as a DM" in notes and dm["text"] in notes
    assert "outside office hours" in notes
    # The customer writes again an hour later: no second acknowledgement within the cooldown.
    gw.clock.advance(3600)
    tweet_id = first["tweet_create_events"][0]["id_str"]
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque toujours rien ?", in_reply_to=tweet_id))
    await gw.settle()
    assert len(gw.x.dms) == 1 and gw.only_ticket() == ticket_id


async def test_during_opening_hours_the_ack_promises_the_response_time(care_gateway: Gateway) -> None:
    gw = care_gateway
    gw.clock.now = paris(2026, 11, 25, 10, 0)  # a Wednesday morning
    await gw.post_x(gw.x.customer_dm(MARC, "Hello, I cannot log in to the app since this morning"))
    await gw.settle()
    [dm] = gw.x.dms
    assert dm["to"] == MARC.id and "The MaBanque team" in dm["text"] and "hour" in dm["text"]
    assert "sav_after_hours" not in gw.zendesk.tickets[gw.only_ticket()]["tags"]


async def test_an_angry_repeat_complainer_is_raised_and_explained(care_gateway: Gateway) -> None:
    gw = care_gateway
    gw.clock.now = paris(2026, 11, 25, 10, 0)
    first = gw.x.customer_post(CLAIRE, "@MaBanque mon virement n'est toujours pas arrivé")
    await gw.post_x(first)
    tweet_id = first["tweet_create_events"][0]["id_str"]
    await gw.settle(step=60)
    ticket_id = gw.only_ticket()
    assert gw.zendesk.tickets[ticket_id].get("priority") in (None, "normal")
    for text in ("@MaBanque toujours rien !!!", "@MaBanque C'EST INADMISSIBLE, je veux être remboursée"):
        gw.clock.advance(120)
        await gw.post_x(gw.x.customer_post(CLAIRE, text, in_reply_to=tweet_id))
        await gw.settle(step=60)
    ticket = gw.zendesk.tickets[ticket_id]
    assert ticket["priority"] in ("high", "urgent")
    assert "sav_unhappy" in ticket["tags"]
    notes = "\n".join(gw.zendesk.notes(ticket_id))
    assert f"priority {ticket['priority']}" in notes
    assert "3 messages in 10 minutes" in notes and "inadmissible" in notes


async def test_a_routing_rule_sends_a_blocked_card_to_the_cards_group(care_gateway: Gateway) -> None:
    gw = care_gateway
    gw.clock.now = paris(2026, 11, 25, 10, 0)
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque ma carte bloquée au distributeur, que faire ?"))
    await gw.settle()
    ticket = gw.zendesk.tickets[gw.only_ticket()]
    assert ticket["group_id"] == CARDS_GROUP and "cartes" in ticket["tags"]
    assert "Routing rule «cartes»" in "\n".join(gw.zendesk.notes(ticket["id"]))


async def test_a_new_conversation_starts_with_the_customers_history(care_gateway: Gateway) -> None:
    gw = care_gateway
    gw.clock.now = paris(2026, 11, 2, 10, 0)
    await gw.post_x(gw.x.customer_dm(MARC, "Bonjour, question sur mon prêt"))
    await gw.settle()
    first_ticket = gw.only_ticket()
    gw.zendesk.set_status(first_ticket, "closed")
    gw.clock.now = paris(2026, 11, 25, 10, 0)
    await gw.post_x(gw.x.customer_post(MARC, "@MaBanque re-bonjour, autre souci avec l'appli"))
    await gw.settle()
    [second] = [t for t in gw.zendesk.tickets if t != first_ticket]
    history = next(n for n in gw.zendesk.notes(second) if n.startswith("📇 History"))
    assert f"#{first_ticket}" in history and "closed" in history
    assert "1 earlier conversation(s)" in history


async def test_the_watch_raises_a_ticket_nearing_its_first_response_target(care_gateway: Gateway) -> None:
    gw = care_gateway
    gw.clock.now = paris(2026, 11, 25, 17, 30)  # Wednesday, 30 minutes before closing
    await gw.post_x(gw.x.customer_dm(MARC, "Bonjour, ma carte ne marche plus en ligne"))
    await gw.settle(step=60)
    ticket_id = gw.only_ticket()
    watch = gw.runtime.care.watch if gw.runtime.care else None
    assert watch is not None
    gw.clock.now = paris(2026, 11, 25, 23, 0)  # 30 business minutes later only: not yet
    assert await watch.check() == 0
    gw.clock.now = paris(2026, 11, 26, 9, 16)  # 45 business minutes: 15 before the hour
    assert await watch.check() == 1
    assert await watch.check() == 0  # once per wait
    await gw.settle(step=60)
    assert gw.zendesk.tickets[ticket_id]["priority"] == "high"
    assert any("first-response target" in n for n in gw.zendesk.notes(ticket_id))


async def test_personal_data_in_public_is_tagged_and_the_agent_told_to_move_to_dm(
    care_gateway: Gateway,
) -> None:
    gw = care_gateway
    gw.clock.now = paris(2026, 11, 25, 10, 0)
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque rappelez-moi au 06 12 34 56 78 svp"))
    await gw.settle()
    ticket_id = gw.only_ticket()
    assert "sav_personal_data" in gw.zendesk.tickets[ticket_id]["tags"]
    assert any("a phone number in public" in n for n in gw.zendesk.notes(ticket_id))
    assert gw.x.brand_posts == []  # no public invitation unless configured


async def test_a_routing_the_helpdesk_refuses_never_holds_the_customers_messages(
    care_gateway: Gateway,
) -> None:
    gw = care_gateway
    gw.zendesk.groups.discard(CARDS_GROUP)  # the mapped group was deleted in the helpdesk: 422 for good
    gw.clock.now = paris(2026, 11, 25, 10, 0)
    first = gw.x.customer_post(CLAIRE, "@MaBanque ma carte bloquée, help")
    await gw.post_x(first)
    await gw.settle()
    ticket_id = gw.only_ticket()
    assert (
        "group_id" not in gw.zendesk.tickets[ticket_id] or gw.zendesk.tickets[ticket_id]["group_id"] is None
    )
    assert any("could not update this ticket" in n for n in gw.zendesk.notes(ticket_id))
    tweet_id = first["tweet_create_events"][0]["id_str"]
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque vous êtes là ?", in_reply_to=tweet_id))
    await gw.settle()
    assert gw.zendesk.public_comments(ticket_id)[-1]["body"].startswith("@MaBanque vous êtes là ?")


async def test_the_report_gives_first_response_times_and_moves_to_dm(
    care_gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import json

    from sav_bridge.cli import main

    gw = care_gateway
    gw.clock.now = paris(2026, 11, 25, 10, 0)
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque bonjour, une question sur mon compte"))
    await gw.settle(step=60)
    answered = gw.only_ticket()
    gw.clock.now = paris(2026, 11, 25, 10, 5)
    await gw.post_x(gw.x.customer_dm(MARC, "Bonjour, j'attends toujours ma carte"))
    await gw.settle(step=60)
    gw.clock.now = paris(2026, 11, 25, 10, 20)
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(answered, agent, "Bonjour Claire, écrivez-nous en DM svp.")
    gw.zendesk.add_tag(answered, "sav_dm")
    await gw.ring(answered)
    await gw.settle(step=60)
    monkeypatch.setenv("SAV_BRIDGE_DATABASE_URL", gw.settings.database_url)
    week = ["care", "report", "--since", "2026-11-25", "--until", "2026-11-26"]
    assert await asyncio.to_thread(main, [*week, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["conversations"], report["answered"], report["unanswered"]) == (2, 1, 1)
    assert report["median_minutes"] == 20.0 and report["within_hour"] == 0.5
    assert (report["public"], report["moved_to_dm"]) == (1, 1)
    assert await asyncio.to_thread(main, week) == 0
    rows = [line.split("  ", 1) for line in capsys.readouterr().out.splitlines()]
    table = {name.strip(): value.strip() for name, value in rows}
    assert table["answered within the hour"] == "50%" and table["first response, median"] == "20 min"


async def test_an_acknowledgement_waits_while_x_refuses_access_then_goes_once(care_gateway: Gateway) -> None:
    from sav_bridge.channels.x.access import PROBE_SECONDS, RECHECK_SECONDS
    from tests.harness import ACCESS_TOKEN

    gw = care_gateway
    gw.clock.now = paris(2026, 11, 25, 10, 0)
    gw.x.revoke_access()
    await gw.post_x(gw.x.customer_dm(MARC, "Bonjour, mon virement n'est pas arrivé"))
    for _ in range(20):  # more rounds than workers.max_attempts: waiting uses no attempt
        await gw.drain()
        gw.clock.advance(RECHECK_SECONDS + 1)
    ticket_id = gw.only_ticket()
    assert gw.x.dms == [] and (await gw.runtime.store.jobs_by_state()).get("dead", 0) == 0
    assert gw.x.oauth1 is not None
    gw.x.oauth1.token = ACCESS_TOKEN  # the administrator fixed the keys
    gw.clock.advance(PROBE_SECONDS)
    await gw.settle(step=RECHECK_SECONDS + 1)
    [dm] = gw.x.dms
    assert dm["to"] == MARC.id
    assert any("Automatic acknowledgement sent" in n for n in gw.zendesk.notes(ticket_id))


async def test_a_public_acknowledgement_only_ever_answers_a_post_that_mentions_the_brand(
    database_url: str, vendor_dir: Path | None, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        CARE.replace('  signature: " ^SAV"\n', '  signature: " ^SAV"\n  ack: {via: public}\n'), "utf-8"
    )
    gw = await start_gateway(database_url, vendor_dir, SAV_BRIDGE_CONFIG=str(config))
    try:
        gw.clock.now = paris(2026, 11, 25, 10, 0)
        mention = gw.x.customer_post(CLAIRE, "@MaBanque bonjour, une question sur mon compte")
        await gw.post_x(mention)
        await gw.post_x(gw.x.customer_dm(MARC, "Bonjour, j'ai une question"))
        await gw.settle()
        [post] = gw.x.brand_posts
        assert post.in_reply_to == mention["tweet_create_events"][0]["id_str"] and post.text.endswith(" ^SAV")
        [dm] = gw.x.dms  # a DM conversation is acknowledged by DM, whatever `via` says
        assert dm["to"] == MARC.id
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
