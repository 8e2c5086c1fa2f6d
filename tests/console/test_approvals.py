"""The approval queue: a `hold` rule keeps a reply until a second person approves (posted once, signed as
the agent) or rejects it (never posted, the agent reads why); undecided ones are reported."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.console.test_api import AUDIENCE, BOB, ISSUER, PUBLIC_PEM, VICTOR, bearer, token
from tests.harness import CLAIRE, Gateway, start_gateway

DEFAULT = Path(__file__).parent.parent.parent / "policies" / "default.yaml"
HOLD_RULE = """rules:
  - id: refund-hold
    description: Refunds wait for a second pair of eyes.
    detector: {pattern: {regex: 'rembours\\w*', confidence: 0.9}}
    audience: [public, dm]
    action: hold
    advice: A team lead approves refunds before they are promised in public.
"""
REFUND = "Nous vous remboursons les 50 € dès demain."


@pytest.fixture
async def gateway(sqlite_url: str, vendor_dir: Path | None, tmp_path: Path) -> AsyncIterator[Gateway]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT.read_text(encoding="utf-8").replace("rules:\n", HOLD_RULE, 1), encoding="utf-8")
    gw = await start_gateway(
        sqlite_url, vendor_dir,
        SAV_BRIDGE_POLICY__PATH=str(policy),
        SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY=PUBLIC_PEM, SAV_BRIDGE_CONSOLE__JWT__ISSUER=ISSUER,
        SAV_BRIDGE_CONSOLE__JWT__AUDIENCE=AUDIENCE, SAV_BRIDGE_CONSOLE__ROLES__COMPLIANCE_LEADS="approver",
    )  # fmt: skip
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()


async def held_reply(gw: Gateway, text: str = REFUND) -> tuple[int, int]:
    """A customer's ticket and an agent's reply the hold rule keeps; (ticket, approval id)."""
    if not gw.zendesk.tickets:
        await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque on m'a prélevé deux fois"))
        await gw.drain()
    ticket = gw.only_ticket()
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(ticket, agent, text)
    await gw.ring(ticket)
    await gw.settle()
    note = gw.zendesk.notes(ticket)[-1]
    found = re.search(r"approval (\d+)", note)
    assert found and note.startswith("⏳ Not posted yet"), note
    return ticket, int(found[1])


async def test_an_approved_reply_is_posted_once_signed_as_its_agent(gateway: Gateway) -> None:
    gw, client = gateway, gateway.client
    ticket, approval = await held_reply(gw)
    assert gw.x.brand_posts == []
    [queued] = (await client.get("/api/v1/approvals", headers=VICTOR)).json()["approvals"]
    assert (queued["id"], queued["status"], queued["text"], queued["rules"]) == (
        approval, "pending", REFUND, ["refund-hold"])  # fmt: skip
    assert queued["agent"]["name"] == "Amélie Jourdain" and queued["overdue"] is False
    author = bearer(token("amelie@mabanque.fr", ["approver"]))
    own = await client.post(f"/api/v1/approvals/{approval}/approve", headers=author)
    assert own.status_code == 403 and "four eyes" in own.json()["error"]
    assert (await client.post(f"/api/v1/approvals/{approval}/approve", headers=VICTOR)).status_code == 403
    approved = await client.post(f"/api/v1/approvals/{approval}/approve", headers=BOB)
    assert approved.status_code == 200 and approved.json()["decided_by"] == "bob"
    assert (await client.post(f"/api/v1/approvals/{approval}/approve", headers=BOB)).status_code == 409
    await gw.settle()
    await gw.ring(ticket)  # the helpdesk rings again: nothing new
    await gw.settle()
    assert [p.text for p in gw.x.brand_posts] == [f"{REFUND} ^AJ"]
    assert "Approved by bob" in gw.zendesk.notes(ticket)[-1]
    [done] = (await client.get("/api/v1/approvals?status=approved", headers=VICTOR)).json()["approvals"]
    assert done["text"] is None and len(done["text_sha256"]) == 64, "a decided reply keeps no text"


async def test_four_eyes_knows_the_author_by_e_mail_claim_and_whatever_the_case(gateway: Gateway) -> None:
    _, approval = await held_reply(gateway)
    # most providers' sub is an opaque id: the author is found by the token's e-mail too
    for author in (
        token("00u1amelie", ["approver"], email="Amelie@MaBanque.fr"),
        token("AMELIE@mabanque.fr", ["approver"]),
    ):
        own = await gateway.client.post(f"/api/v1/approvals/{approval}/approve", headers=bearer(author))
        assert own.status_code == 403 and "four eyes" in own.json()["error"]
    await gateway.settle()
    assert gateway.x.brand_posts == []


async def test_a_rejected_reply_is_never_posted_and_the_agent_reads_why(gateway: Gateway) -> None:
    gw, client = gateway, gateway.client
    ticket, approval = await held_reply(gw)
    assert (await client.post(f"/api/v1/approvals/{approval}/reject", headers=BOB)).status_code == 400
    rejected = await client.post(
        f"/api/v1/approvals/{approval}/reject", json={"comment": "Pas de montant en public."}, headers=BOB
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    await gw.settle()
    assert gw.x.brand_posts == []
    assert gw.zendesk.notes(ticket)[-1] == (
        "🚫 Not posted on X: rejected by bob in the compliance console: Pas de montant en public."
    )
    log = (await client.get("/api/v1/admin-log", headers=VICTOR)).json()["entries"]
    assert [(e["actor"], e["action"]) for e in log] == [("bob", "approval.reject")]
    assert (await client.post("/api/v1/approvals/999/approve", headers=BOB)).status_code == 404


async def test_a_reply_nobody_decides_is_reported_not_forgotten(gateway: Gateway) -> None:
    gw, client = gateway, gateway.client
    await held_reply(gw)
    gw.clock.advance(5 * 3600)  # console.approval_timeout_hours defaults to 4
    [queued] = (await client.get("/api/v1/approvals", headers=VICTOR)).json()["approvals"]
    assert queued["overdue"] is True and queued["status"] == "pending"
    assert "sav_bridge_approvals_overdue 1.0" in (await client.get("/metrics")).text
    assert gw.x.brand_posts == []


def test_the_default_policy_ships_hold_rules_ready_to_uncomment() -> None:
    from sav_bridge.model import Audience
    from sav_bridge.policy import Policy

    text = re.sub(r"^  # (?=[- ] )", "  ", DEFAULT.read_text(encoding="utf-8"), flags=re.M)
    policy = Policy.from_text(text)
    decide = policy.decide
    assert decide("Nous vous remboursons 50 € demain", Audience.PUBLIC).action == "hold"
    assert decide("Notre avocat vous répondra", Audience.PUBLIC).action == "hold"
    assert decide("Nous vous remboursons 50 € demain", Audience.DM).action != "hold"
    assert Policy.from_file(DEFAULT).decide("Notre avocat vous répondra", Audience.PUBLIC).action == "allow"
