"""`serve` with `sandbox: true` runs for days: its fakes keep their state (tickets, posts) but record only
their last requests, and the Zendesk fake keeps each idempotency key's first answer, not the objects of
that exchange."""

from __future__ import annotations

import json

import httpx
from sav_bridge_zendesk.sandbox import FakeZendesk

from sav_bridge.config import load_settings
from sav_bridge.sandbox import Sandbox
from tests.harness import ZENDESK_TOKEN, gateway_env

TICKETS = "https://mabanque.zendesk.com/api/v2/tickets"


def zendesk(sandbox: Sandbox) -> httpx.Client:
    auth = httpx.BasicAuth("api@mabanque.fr/token", ZENDESK_TOKEN)
    return httpx.Client(transport=sandbox.transport(), auth=auth)


def tickets(sandbox: Sandbox) -> list[dict[str, object]]:
    fake = sandbox.helpdesk
    assert isinstance(fake, FakeZendesk)
    return list(fake.tickets.values())


def ticket(n: int) -> dict[str, object]:
    return {"ticket": {"subject": f"mention {n}", "comment": {"body": f"texte {n}"}}}


def test_a_sandbox_kept_short_records_only_its_last_requests_and_forgets_no_ticket() -> None:
    sandbox = Sandbox(load_settings(None, gateway_env("sqlite:///:memory:")), None).keep_last(3)
    with zendesk(sandbox) as client:
        answers = [client.post(TICKETS, json=ticket(n)) for n in range(5)]
    assert [a.status_code for a in answers] == [201] * 5
    kept = [json.loads(request.content)["ticket"]["subject"] for request in sandbox.helpdesk.requests]
    assert kept == ["mention 2", "mention 3", "mention 4"]
    subjects = [t["subject"] for t in tickets(sandbox)]
    assert subjects == [f"mention {n}" for n in range(5)]


def test_a_sandbox_keeps_every_request_unless_told() -> None:
    sandbox = Sandbox(load_settings(None, gateway_env("sqlite:///:memory:")), None)
    with zendesk(sandbox) as client:
        for n in range(5):
            client.post(TICKETS, json=ticket(n))
    assert len(sandbox.helpdesk.calls("POST", "/api/v2/tickets")) == 5


def test_zendesk_answers_a_repeated_idempotency_key_with_its_first_answer() -> None:
    sandbox = Sandbox(load_settings(None, gateway_env("sqlite:///:memory:")), None)
    with zendesk(sandbox) as client:
        key = {"Idempotency-Key": "mention-1"}
        first = client.post(TICKETS, json=ticket(1), headers=key)
        again = client.post(TICKETS, json=ticket(1), headers=key)
        other = client.post(TICKETS, json=ticket(2), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["x-idempotency-lookup"] == "hit"
    assert again.headers["content-type"] == "application/json"
    assert other.status_code == 400 and "IdempotentRequestError" in other.text
    assert len(tickets(sandbox)) == 1
