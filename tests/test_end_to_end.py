"""X ↔ Zendesk through the real HTTP app, the sandboxes and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from sav_bridge.channels.x.text import weighted_length
from sav_bridge.sandbox import Fault
from tests.harness import ACCOUNT_ID, CLAIRE, MARC, SCREEN_NAME, Gateway

pytestmark = pytest.mark.asyncio


async def open_conversation(
    gw: Gateway, text: str = "@MaBanque ma carte est bloquée depuis ce matin"
) -> tuple[str, int]:
    body = gw.x.customer_post(CLAIRE, text)
    assert (await gw.post_x(body)).status_code == 200
    await gw.drain()
    return body["tweet_create_events"][0]["id_str"], gw.only_ticket()


async def test_mention_opens_ticket_with_customer_identity(gateway: Gateway) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    ticket = gateway.zendesk.tickets[ticket_id]
    requester = gateway.zendesk.users[ticket["requester_id"]]
    assert requester["external_id"] == f"x:{CLAIRE.id}"
    assert {"type": "twitter", "value": CLAIRE.screen_name} in requester["identities"]
    assert requester["name"] == "Claire Dupont"
    assert ticket["tags"] == ["sav_bridge", "x_mention"]
    assert ticket["subject"] == "@MaBanque ma carte est bloquée depuis ce matin"
    first = gateway.zendesk.public_comments(ticket_id)[0]
    assert first["author_id"] == requester["id"]
    assert f"/status/{tweet_id}" in first["body"]


async def test_follow_up_reply_threads_into_same_ticket_in_both_envelopes(gateway: Gateway) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "@MaBanque toujours rien…", in_reply_to=tweet_id))
    await gateway.post_x(
        gateway.x.customer_post(CLAIRE, "@MaBanque allô ?", in_reply_to=tweet_id, envelope="xaa")
    )
    await gateway.drain()
    assert len(gateway.zendesk.tickets) == 1
    bodies = [c["body"] for c in gateway.zendesk.public_comments(ticket_id)]
    assert bodies[1].startswith("@MaBanque toujours rien…") and bodies[2].startswith("@MaBanque allô ?")


async def test_reply_to_our_answer_threads_back_to_the_ticket(gateway: Gateway) -> None:
    _, ticket_id = await open_conversation(gateway)
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Pouvez-vous nous écrire en DM ?")
    await gateway.ring(ticket_id)
    await gateway.drain()
    our_reply = gateway.x.brand_posts[0].id
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "@MaBanque c'est fait", in_reply_to=our_reply))
    await gateway.drain()
    assert len(gateway.zendesk.tickets) == 1
    assert gateway.zendesk.public_comments(ticket_id)[-1]["body"].startswith("@MaBanque c'est fait")


async def test_duplicate_delivery_makes_one_ticket(gateway: Gateway) -> None:
    body = gateway.x.customer_post(CLAIRE, "@MaBanque bonjour")
    first = await gateway.post_x(body)
    second = await gateway.post_x(body)
    await gateway.drain()
    assert first.json()["accepted"] == 1
    assert second.json() == {"accepted": 0, "duplicates": 1, "dropped": {}}
    assert len(gateway.zendesk.tickets) == 1


async def test_dm_opens_dm_ticket_and_agent_answer_goes_as_dm(gateway: Gateway) -> None:
    await gateway.post_x(
        gateway.x.customer_dm(MARC, "Bonjour, mon virement n'est pas arrivé", envelope="xaa")
    )
    await gateway.drain()
    ticket_id = gateway.only_ticket()
    assert gateway.zendesk.tickets[ticket_id]["tags"] == ["sav_bridge", "x_dm"]
    agent = gateway.zendesk.add_agent("Jean-Pierre Martin", "jp@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Nous regardons votre virement.")
    await gateway.ring(ticket_id)
    await gateway.drain()
    assert gateway.x.dms == [
        {"id": gateway.x.dms[0]["id"], "to": MARC.id, "text": "Nous regardons votre virement. ^JPM"}
    ]
    assert gateway.x.brand_posts == []
    assert any("DM" in note for note in gateway.zendesk.notes(ticket_id))


async def test_public_agent_reply_is_posted_once_signed_with_link_note(gateway: Gateway) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Merci de votre patience !")
    await gateway.ring(ticket_id)
    await gateway.ring(ticket_id)  # the trigger fires again on a later update
    await gateway.drain()
    [post] = gateway.x.brand_posts
    assert post.text == "Merci de votre patience ! ^AJ"
    assert post.in_reply_to == tweet_id
    notes = gateway.zendesk.notes(ticket_id)
    assert notes == [f"✅ Posted on X:\nhttps://x.com/{SCREEN_NAME}/status/{post.id}"]


async def test_private_notes_and_customer_comments_are_never_posted(gateway: Gateway) -> None:
    _, ticket_id = await open_conversation(gateway)
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Client connu, carte 4970 1012 3456 7890", public=False)
    await gateway.ring(ticket_id)
    await gateway.drain()
    assert gateway.x.brand_posts == [] and gateway.x.dms == []


async def test_sav_dm_tag_moves_public_conversation_to_dm(gateway: Gateway) -> None:
    _, ticket_id = await open_conversation(gateway)
    gateway.zendesk.add_tag(ticket_id, "sav_dm")
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Je vous écris en privé.")
    await gateway.ring(ticket_id)
    await gateway.drain()
    assert gateway.x.brand_posts == []
    assert [(d["to"], d["text"]) for d in gateway.x.dms] == [(CLAIRE.id, "Je vous écris en privé. ^AJ")]


async def test_long_reply_becomes_numbered_thread_never_cut(gateway: Gateway) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    sentence = "Nous avons bien reçu votre demande concernant l'opposition sur votre carte bancaire. "
    long_text = (sentence * 6).strip()
    gateway.zendesk.agent_comment(ticket_id, agent, long_text)
    await gateway.ring(ticket_id)
    await gateway.drain()
    posts = gateway.x.brand_posts
    assert len(posts) == 2
    assert [p.text.endswith(f" {i}/2 ^AJ") for i, p in enumerate(posts, 1)] == [True, True]
    assert all(weighted_length(p.text) <= 280 for p in posts)
    rebuilt = " ".join(p.text.rsplit(" ", 2)[0] for p in posts)
    assert rebuilt == long_text
    assert posts[0].in_reply_to == tweet_id and posts[1].in_reply_to == posts[0].id


async def test_solved_ticket_is_reopened_by_a_follow_up(gateway: Gateway) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    gateway.zendesk.set_status(ticket_id, "solved")
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "@MaBanque ça recommence", in_reply_to=tweet_id))
    await gateway.drain()
    assert gateway.zendesk.tickets[ticket_id]["status"] == "open"
    assert len(gateway.zendesk.tickets) == 1


async def test_closed_ticket_gets_a_follow_up_ticket(gateway: Gateway) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    gateway.zendesk.set_status(ticket_id, "closed")
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "@MaBanque encore moi", in_reply_to=tweet_id))
    await gateway.drain()
    assert len(gateway.zendesk.tickets) == 2
    new = max(gateway.zendesk.tickets)
    assert gateway.zendesk.tickets[new]["via_followup_source_id"] == ticket_id
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(new, agent, "Nous revenons vers vous.")
    await gateway.ring(new)
    await gateway.drain()
    assert [p.text for p in gateway.x.brand_posts] == ["Nous revenons vers vous. ^AJ"]


async def test_ticket_create_retried_after_ambiguous_5xx_makes_one_ticket(gateway: Gateway) -> None:
    gateway.zendesk.faults.add(Fault("POST", "/api/v2/tickets", status=500, applied=True, times=3))
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "@MaBanque bonjour"))
    await gateway.settle()
    assert len(gateway.zendesk.tickets) == 1
    assert (await gateway.runtime.store.jobs_by_state()) == {"done": 1}


async def test_comment_retried_after_timeout_is_added_once(gateway: Gateway) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    gateway.zendesk.faults.add(Fault("PUT", r"/api/v2/tickets/\d+", timeout=True, applied=True, times=3))
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "@MaBanque relance", in_reply_to=tweet_id))
    await gateway.settle()
    assert [c["body"].split("\n")[0] for c in gateway.zendesk.public_comments(ticket_id)].count(
        "@MaBanque relance"
    ) == 1


async def test_rate_limited_helpdesk_is_retried_after_retry_after(gateway: Gateway) -> None:
    gateway.zendesk.faults.rate_limit("POST", "/api/v2/users/create_or_update", retry_after=120, times=1)
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "@MaBanque bonjour"))
    await gateway.drain()
    assert gateway.zendesk.tickets == {}
    [job] = await gateway.runtime.store.job_rows("pending")
    assert 120 <= job["next_attempt_at"] - gateway.clock.now <= 121
    gateway.clock.advance(121)
    await gateway.drain()
    assert len(gateway.zendesk.tickets) == 1


async def test_x_refusing_an_unsummoned_reply_tells_the_agent(gateway: Gateway) -> None:
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "ma banque est nulle"))  # no @mention
    await gateway.drain()
    ticket_id = gateway.only_ticket()
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Bonjour, pouvons-nous aider ?")
    await gateway.ring(ticket_id)
    await gateway.drain()
    assert gateway.x.brand_posts == []
    [note] = gateway.zendesk.notes(ticket_id)
    assert note.startswith("⚠️ Not posted on X") and "sav_dm" in note


async def test_x_5xx_on_post_is_retried_and_posts_once(gateway: Gateway) -> None:
    _, ticket_id = await open_conversation(gateway)
    gateway.x.faults.add(Fault("POST", "/2/tweets", status=503, times=4))
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Nous regardons.")
    await gateway.ring(ticket_id)
    await gateway.settle()
    assert [p.text for p in gateway.x.brand_posts] == ["Nous regardons. ^AJ"]


async def test_a_reply_waiting_for_x_never_holds_the_customers_next_messages(gateway: Gateway) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    gateway.x.faults.add(Fault("POST", "/2/tweets", status=503, times=50))  # X down for a long while
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Nous regardons.")
    await gateway.ring(ticket_id)
    await gateway.drain()
    assert gateway.x.brand_posts == [] and (await gateway.runtime.store.jobs_by_state()).get("pending") == 1
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "@MaBanque toujours là ?", in_reply_to=tweet_id))
    await gateway.drain()  # the reply still waits for X; the customer's message does not wait for it
    assert gateway.zendesk.public_comments(ticket_id)[-1]["body"].startswith("@MaBanque toujours là ?")


async def test_our_own_posts_coming_back_are_dropped(gateway: Gateway) -> None:
    _, ticket_id = await open_conversation(gateway)
    agent = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, agent, "Merci !")
    await gateway.ring(ticket_id)
    await gateway.drain()
    response = await gateway.post_x(gateway.x.echo_of(gateway.x.brand_posts[0].id))
    assert response.json() == {"accepted": 0, "duplicates": 0, "dropped": {"echo": 1}}
    await gateway.drain()
    assert len(gateway.zendesk.public_comments(ticket_id)) == 2  # customer's + agent's, no echo


async def test_customer_answering_an_agent_who_replied_natively_on_x_stays_on_the_ticket(
    gateway: Gateway,
) -> None:
    tweet_id, ticket_id = await open_conversation(gateway)
    echo = gateway.x.brand_reply_on_x(f"@{CLAIRE.screen_name} Nous regardons ça. ^AJ", in_reply_to=tweet_id)
    response = await gateway.post_x(echo)
    assert response.json()["dropped"] == {"echo": 1}
    brand_post = echo["tweet_create_events"][0]["id_str"]
    # The customer answers the brand's post, not her own first post: the chain goes through the echo.
    await gateway.post_x(gateway.x.customer_post(CLAIRE, "Merci, j'attends", in_reply_to=brand_post))
    await gateway.drain()
    assert len(gateway.zendesk.tickets) == 1
    assert gateway.zendesk.public_comments(ticket_id)[-1]["body"].startswith("Merci, j'attends")
    assert len(gateway.zendesk.public_comments(ticket_id)) == 2  # the echo itself made no comment


async def test_agents_with_same_initials_get_distinct_signatures(gateway: Gateway) -> None:
    _, ticket_id = await open_conversation(gateway)
    alain = gateway.zendesk.add_agent("Alain Jacob", "alain@mabanque.fr")
    amelie = gateway.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gateway.zendesk.agent_comment(ticket_id, alain, "Bonjour.")
    await gateway.ring(ticket_id)
    await gateway.drain()
    gateway.zendesk.agent_comment(ticket_id, amelie, "Je prends le relais.")
    await gateway.ring(ticket_id)
    await gateway.drain()
    assert [p.text for p in gateway.x.brand_posts] == ["Bonjour. ^AJ", "Je prends le relais. ^AJo"]


async def test_account_id_of_other_brand_is_ignored(gateway: Gateway) -> None:
    body = gateway.x.customer_post(CLAIRE, "@MaBanque hello")
    body["for_user_id"] = "999"
    response = await gateway.post_x(body)
    assert response.json()["dropped"] == {"other_account": 1}
    assert await gateway.runtime.store.count("events") == 0
    assert ACCOUNT_ID != "999"
