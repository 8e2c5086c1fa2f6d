"""Outages: a helpdesk down for six hours loses nothing and keeps X going; a 429 storm is obeyed.

- Zendesk answers 503 to everything for six simulated hours (the test's clock): the webhooks are still
  acknowledged at once, no job goes to the dead letters, the breaker keeps the gateway from hammering the
  helpdesk (a probe now and then, not a retry per job), a reply to X meanwhile is posted; once Zendesk is
  back every message arrives exactly once and, per conversation, in order.
- Zendesk answers 429 with `Retry-After: 120`: no request reaches it before the 120 s are over, on any
  worker, and the jobs that waited used no attempt.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from sav_bridge import http
from sav_bridge.sandbox import Customer, Fault
from tests.harness import Gateway, start_gateway

pytestmark = pytest.mark.asyncio

HOURS = 6
CUSTOMERS = [Customer(str(2_300_000_000_000_000_000 + i), f"client_{i}", f"Client {i}") for i in range(4)]


def helpdesk_down(gw: Gateway) -> list[Fault]:
    return [
        gw.zendesk.faults.add(Fault(method, r"/api/v2/.*", status=503, times=10**6))
        for method in ("GET", "POST", "PUT")
    ]


def messages_in_order(gw: Gateway) -> dict[str, list[int]]:
    """For each ticket, the numbers of the customer messages it holds, in the order they arrived."""
    found: dict[str, list[int]] = {}
    for ticket_id in gw.zendesk.tickets:
        for comment in gw.zendesk.public_comments(ticket_id):
            match = re.search(r"message (\d+)", comment["body"])
            if match:
                found.setdefault(str(ticket_id), []).append(int(match[1]))
    return found


async def no_sleep(seconds: float) -> None:
    """A call's quick retries take no real time here (the test's clock is the one that counts)."""


async def test_six_hours_of_503_lose_nothing_and_deliver_everything_once_in_order(
    database_url: str, vendor_dir: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(http.send.__kwdefaults__, "sleep", no_sleep)
    gw = await start_gateway(database_url, vendor_dir)
    try:
        faults = helpdesk_down(gw)
        sent = 0
        for _ in range(0, HOURS * 60, 10):  # a DM from a customer every ten minutes, for six hours
            who = CUSTOMERS[sent % len(CUSTOMERS)]
            answer = await gw.post_x(gw.x.customer_dm(who, f"message {sent} : toujours pas de nouvelles"))
            assert answer.status_code == 200, "ingest must not depend on the helpdesk"
            sent += 1
            await gw.drain()
            gw.clock.advance(600)
        states = await gw.runtime.store.jobs_by_state()
        assert "dead" not in states and states.get("pending") == sent
        # The breaker lets a probe through now and then (about 110 requests in six hours here; 226 when
        # every due job tries on its own).
        refused = sum(10**6 - fault.times for fault in faults)
        assert refused < 160, f"{refused} requests to a helpdesk that was down"

        for fault in faults:
            fault.times = 0  # Zendesk is back
        await gw.settle()
        assert set(await gw.runtime.store.jobs_by_state()) == {"done"}
        delivered = messages_in_order(gw)
        assert sorted(n for numbers in delivered.values() for n in numbers) == list(range(sent))  # once each
        assert all(numbers == sorted(numbers) for numbers in delivered.values()), delivered  # in order
        assert len(delivered) == len(CUSTOMERS)
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def test_a_429_storm_is_obeyed_no_request_before_retry_after(
    database_url: str, vendor_dir: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(http.send.__kwdefaults__, "sleep", no_sleep)
    gw = await start_gateway(database_url, vendor_dir)
    try:
        seen: list[tuple[float, int | None]] = []  # (clock, status when answered at once)
        respond = gw.zendesk.respond

        def noting(request: httpx.Request) -> object:
            answer = respond(request)
            seen.append((gw.clock.now, answer.status_code if isinstance(answer, httpx.Response) else None))
            return answer

        monkeypatch.setattr(gw.zendesk, "respond", noting)
        gw.zendesk.faults.add(
            Fault("POST", r"/api/v2/.*", status=429, headers={"Retry-After": "120"}, times=4)
        )
        for n, who in enumerate(CUSTOMERS):
            assert (await gw.post_x(gw.x.customer_dm(who, f"message {n} : bonjour"))).status_code == 200
        await gw.drain()
        assert [status for _, status in seen] == [429], "one 429, then nothing until Retry-After"
        for _ in range(300):  # ten-second steps until every message is delivered
            gw.clock.advance(10)
            await gw.drain()
            if set(await gw.runtime.store.jobs_by_state()) == {"done"}:
                break
        limited = [at for at, status in seen if status == 429]
        assert len(limited) == 4
        for at in limited:
            assert not [t for t, _ in seen if at < t < at + 120], "a request went out before Retry-After"
        jobs = await gw.runtime.store.job_rows()
        assert {j["state"] for j in jobs} == {"done"}
        assert all(j["attempts"] == 1 for j in jobs), "waiting out a 429 used up attempts"
        assert len(messages_in_order(gw)) == len(CUSTOMERS)
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
