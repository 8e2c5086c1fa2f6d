"""A compliance officer's day in a real browser: sign in with a token, write a version with an error and see
it at its line, fix it, test it on sample replies, have a colleague activate it and see a decision change,
roll back, then approve a held reply, which is posted once, signed as its agent.

The gateway is the reference plugin's sandbox, so this module needs the reference plugin (tests/conftest.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect
from sav_bridge_zendesk.sandbox import FakeZendesk

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.model import Audience
from tests.browser.conftest import ServedGateway
from tests.harness import CLAIRE, CONSUMER_SECRET

CARD = "Votre carte 4970 1012 3456 7893 est débloquée"
REFUND = "Nous vous remboursons les 50 € dès demain."
#: Looser on cards, stricter on refunds: one line (8) with an action that does not exist.
WRONG = """version: 2026.12-1
name: refunds held, cards allowed
rules:
  - id: refund-hold
    description: Refunds wait for a second pair of eyes.
    detector: {pattern: {regex: 'rembours\\w*', confidence: 0.9}}
    audience: [public, dm]
    action: shred
"""
FIXED = WRONG.replace("action: shred", "action: hold")


def sign_in(page: Page, gateway: ServedGateway, subject: str, role: str) -> None:
    """Paste a token on the sign-in page, as the demo invites people to."""
    page.goto("/console/")
    expect(page.locator("#token-login")).to_be_visible()
    page.fill("#token", gateway.token(subject, role))
    page.click("#token-login button[type=submit]")
    expect(page.locator("#subject")).to_have_text(subject)


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_write_test_activate_roll_back_and_approve(
    page_as: Callable[..., Page], gateway: ServedGateway, screenshot: Callable[[Page, str], None]
) -> None:
    alice = page_as(None, locale="en-GB")
    sign_in(alice, gateway, "alice", "editor")

    alice.click("nav >> text=New version")
    alice.wait_for_load_state()  # the editor's script listens from then on
    alice.fill("#yaml", WRONG)
    error = alice.locator("#problems li[data-line='8']")
    expect(error).to_contain_text("line 8")
    expect(error).to_contain_text("rules[0].action: must be one of block")
    expect(alice.locator("#gutter span.bad")).to_have_text("8")
    error.locator("a").click()
    selected = alice.evaluate("() => { const t = document.querySelector('#yaml');"
                              " return t.value.slice(t.selectionStart, t.selectionEnd); }")  # fmt: skip
    assert selected.strip() == "action: shred", "a click on the error selects its line"
    screenshot(alice, "console-editor")
    alice.fill("#yaml", FIXED)
    expect(alice.locator("#problems")).to_contain_text("No error.")
    alice.fill("#comment", "hold refunds; cards are handled by the DM flow")
    alice.click("#save")
    expect(alice.locator("#notice")).to_have_text("Draft saved.")
    expect(alice.locator("#activate-blocked")).to_contain_text("approver role")

    alice.fill("#texts", "\n".join(["Bonne journée !", CARD, REFUND]))
    alice.click("#run-test")
    expect(alice.locator("#test-summary")).to_contain_text("3 replies tested")
    changed = alice.locator("#test-results tr.changed")
    expect(changed).to_have_count(2)
    expect(changed.nth(0)).to_contain_text(CARD)
    expect(changed.nth(1)).to_contain_text("held for approval")
    expect(alice.locator("#test-count")).to_have_text("3 / 3")
    screenshot(alice, "console-test")

    bob = page_as(None, locale="fr-FR")
    sign_in(bob, gateway, "bob", "approver")
    bob.goto("/console/versions/2")
    expect(bob.locator("#diff .add").first).to_be_visible()
    bob.click("#activate-button")
    expect(bob.locator("#notice")).to_contain_text("Version mise en vigueur")
    assert gateway.runtime.policy.decide(CARD, Audience.PUBLIC).action == "allow"
    bob.goto("/console/")
    expect(bob.locator("#active-policy h2")).to_contain_text("(v2)")
    expect(bob.locator("#active-policy")).to_contain_text("soumise à validation")

    held = held_reply(gateway)
    bob.goto("/console/approvals")
    expect(bob.locator(f"#held-{held}")).to_contain_text(REFUND)
    screenshot(bob, "console-approvals")
    bob.locator(f"#held-{held} form.approve button").click()
    expect(bob.locator("#notice")).to_contain_text("Validée")
    wait_until(lambda: len(gateway.sandbox.x.brand_posts) == 1, "the approved reply to be posted")
    assert [p.text for p in gateway.sandbox.x.brand_posts] == [f"{REFUND} ^AJ"]

    bob.goto("/console/versions/1")
    bob.click("#activate-button")
    expect(bob.locator("#notice")).to_contain_text("Version mise en vigueur")
    assert gateway.runtime.policy.decide(CARD, Audience.PUBLIC).action == "block"
    bob.goto("/console/audit")
    expect(bob.locator("#audit")).to_contain_text("refund-hold")
    screenshot(bob, "console-audit")
    bob.goto("/console/log")
    expect(bob.locator("#admin-log")).to_contain_text("policy.activate")
    time.sleep(0.5)
    assert [p.text for p in gateway.sandbox.x.brand_posts] == [f"{REFUND} ^AJ"], "posted exactly once"


def held_reply(gateway: ServedGateway) -> int:
    """A customer writes on X, an agent answers a refund in the ticket: the hold rule keeps it."""
    zendesk = gateway.sandbox.helpdesk
    assert isinstance(zendesk, FakeZendesk)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        body = json.dumps(
            gateway.sandbox.x.customer_post(CLAIRE, "@MaBanque on m'a prélevé deux fois")
        ).encode()
        sent = client.post("/webhooks/x", content=body,
                           headers={"content-type": "application/json", SIGNATURE_HEADER: sign(CONSUMER_SECRET, body)})  # fmt: skip
        assert sent.status_code == 200, sent.text
        wait_until(lambda: len(zendesk.tickets) == 1, "the ticket")
        ticket = next(iter(zendesk.tickets))
        agent = zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
        zendesk.agent_comment(ticket, agent, REFUND)
        headers, doorbell = zendesk.doorbell(ticket)
        assert client.post("/webhooks/zendesk", content=doorbell, headers=headers).status_code == 200
    pending: list[int] = []

    def queued() -> bool:
        pending[:] = [row["id"] for row in gateway.run(gateway.store.approvals.list("pending"))]
        return bool(pending)

    wait_until(queued, "the reply to be held")
    return pending[0]
