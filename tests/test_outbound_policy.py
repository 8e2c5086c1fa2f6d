"""The posting policy in the outbound flow: what reaches X, and what the agent reads in the ticket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness import CLAIRE, Gateway, start_gateway

pytestmark = pytest.mark.asyncio
CARD = "4970 1012 3456 7893"


async def agent_answers(gw: Gateway, text: str, tags: tuple[str, ...] = ()) -> int:
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque ma carte ne marche plus"))
    await gw.drain()
    ticket_id = gw.only_ticket()
    for tag in tags:
        gw.zendesk.add_tag(ticket_id, tag)
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(ticket_id, agent, text)
    await gw.ring(ticket_id)
    await gw.drain()
    return ticket_id


async def test_blocked_reply_is_never_posted_and_the_agent_reads_why(gateway: Gateway) -> None:
    ticket_id = await agent_answers(gateway, f"Votre carte {CARD} est réactivée.")
    assert gateway.x.brand_posts == [] and gateway.x.dms == []
    [note] = gateway.zendesk.notes(ticket_id)
    assert note.startswith("⛔ Not posted on X.")
    assert "payment card •••• 7893" in note and "rule card-number" in note
    assert "Remove the card number" in note
    assert CARD not in note
    [audit] = await gateway.runtime.store.audit_rows("policy")
    detail = json.loads(audit["detail"])
    assert audit["policy_version"] == "2026.12-1 (v1)"
    assert detail["action"] == "block" and detail["findings"][0]["rule"] == "card-number"
    assert CARD not in audit["detail"]  # the audit keeps a hash of the text, not the number
    jobs = await gateway.runtime.store.job_rows()
    assert all(CARD not in job["payload"] for job in jobs)  # nor does the outbox, once the job is done
    [reply_job] = [job for job in jobs if job["kind"] == "reply.publish"]
    assert json.loads(reply_job["payload"])["body_sha256"] == detail["text_sha256"]


async def test_redacted_reply_is_posted_masked_and_the_note_says_so(gateway: Gateway) -> None:
    ticket_id = await agent_answers(gateway, "Écrivez-nous à claire.dupont@gmail.com, merci.")
    [post] = gateway.x.brand_posts
    assert post.text == "Écrivez-nous à ••••••.••••••@•••••.•••, merci. ^AJ"
    [note] = gateway.zendesk.notes(ticket_id)
    assert note.startswith("✅ Posted on X:") and "posted with these parts masked" in note


async def test_phone_in_public_reply_is_held_with_advice_to_use_dm(gateway: Gateway) -> None:
    ticket_id = await agent_answers(gateway, "Appelez-nous au 06 12 34 56 78.")
    assert gateway.x.brand_posts == [] and gateway.x.dms == []
    [note] = gateway.zendesk.notes(ticket_id)
    assert note.startswith("✋ Not posted publicly.") and "sav_dm" in note


async def test_the_same_phone_number_goes_out_in_a_dm(gateway: Gateway) -> None:
    await agent_answers(gateway, "Appelez-nous au 06 12 34 56 78.", tags=("sav_dm",))
    assert [d["text"] for d in gateway.x.dms] == ["Appelez-nous au 06 12 34 56 78. ^AJ"]


async def test_warned_reply_is_posted_and_the_warning_recorded(gateway: Gateway) -> None:
    ticket_id = await agent_answers(gateway, "Quel bordel ce matin, désolés !")
    assert len(gateway.x.brand_posts) == 1
    [note] = gateway.zendesk.notes(ticket_id)
    assert note.startswith("✅ Posted on X:") and "warning: vulgar term «b••••l»" in note


async def test_switch_to_dm_policy_sends_a_public_reply_as_dm(
    sqlite_url: str, vendor_dir: Path | None, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        'version: "dm-1"\nrules:\n'
        "  - {id: phone, detector: {pii: phone}, audience: public, action: require_dm, switch_to_dm: true}\n"
    )
    gw = await start_gateway(sqlite_url, vendor_dir, SAV_BRIDGE_POLICY__PATH=str(policy))
    try:
        ticket_id = await agent_answers(gw, "Appelez-nous au 06 12 34 56 78.")
        assert gw.x.brand_posts == []
        assert [(d["to"], d["text"]) for d in gw.x.dms] == [
            (CLAIRE.id, "Appelez-nous au 06 12 34 56 78. ^AJ")
        ]
        [note] = gw.zendesk.notes(ticket_id)
        assert "sent as a DM instead of a public post" in note
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
