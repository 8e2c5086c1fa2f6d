"""Several replicas on one PostgreSQL (issue 11, "Concurrency"): wake-ups, exactly once, shared limits.

Replicas here are in-process `Runtime`s, each with its own `Store` and connection pools (and its own
LISTEN connection), sharing one `Sandbox` object (the fakes are in-process objects, which OS processes
could not share) and running their workers concurrently as asyncio tasks on one event loop. The raw
limiter across three OS processes is `test_destinations.py`'s test.

- A job enqueued on replica A (webhook or `Store.enqueue`) is picked up by B's idle workers within a
  second while their polling is a minute: NOTIFY as the wake-up.
- Three replicas race for N jobs that each open a Zendesk ticket; one replica is killed mid-run just
  after Zendesk created a ticket and before its job was done (its worker tasks cancelled, its leases
  never given back); the others take its jobs over once the leases run out: every idempotency key has
  exactly one ticket.
- A 10 requests/s limit on Zendesk (`workers.rate_limits`) holds across three replicas within 10 %,
  the jobs going through the outbox and the shared client's `Throttle`, on the real clock.
- A backlog of conversations drains at >= 95 % of Zendesk's own limit (700 requests a minute, enforced
  by the sandbox with 429 and `Retry-After`) with no 429, on a virtual clock that sleeping moves
  (`VirtualTime`): minutes of draining in seconds. The full size is `bench/replica_drain.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from sav_bridge.app import create_app
from sav_bridge.config import load_settings
from sav_bridge.model import Audience, Conversation, MessageKind, SocialMessage, SocialUser
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Customer, Sandbox
from sav_bridge.store import Job, NewJob
from tests.conftest import postgres_schema_url
from tests.harness import Clock, Gateway, gateway_env

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]

#: A job kind of these tests: open the Zendesk ticket of conversation `n` (two requests: the requester,
#: then the ticket, under the job's idempotency key), as the inbound flow's first message does.
OPEN_TICKET = "test.open_ticket"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_schema_url()


@pytest.fixture
async def replicas() -> AsyncIterator[list[Gateway]]:
    opened: list[Gateway] = []
    yield opened
    for gw in opened:
        await gw.client.aclose()
        await gw.runtime.close()


async def open_replica(
    url: str,
    sandbox: Sandbox | None,
    clock: Callable[[], float],
    transport: httpx.AsyncBaseTransport | None = None,
    **env: str,
) -> Gateway:
    """One replica: its own runtime, store and pools; the `sandbox` of the first, shared."""
    settings = load_settings(None, gateway_env(url, **env))
    sandbox = sandbox or Sandbox(settings, None, clock)
    runtime = await Runtime.start(settings, transport=transport or sandbox.transport(), clock=clock)
    runtime.outbox.handlers = {**runtime.outbox.handlers, OPEN_TICKET: opening_tickets(runtime)}
    runtime.outbox.destinations[OPEN_TICKET] = settings.helpdesk
    app = create_app(settings, runtime)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    return Gateway(settings, runtime, sandbox, client, clock)  # type: ignore[arg-type]


def opening_tickets(runtime: Runtime) -> Callable[[Job], Any]:
    async def open_ticket(job: Job) -> None:
        n = int(job.payload["n"])
        who = SocialUser(str(2_400_000_000_000_000_000 + n), f"client_{n}", f"Client {n}")
        thread = f"x:dm:{who.id}"
        msg = SocialMessage(
            "x", "1", str(3_000_000_000_000_000_000 + n), MessageKind.DM, who, f"message {n}",
            "2026-11-25T10:00:00Z", thread,
        )  # fmt: skip
        conv = Conversation(thread, "x", Audience.DM, who)
        # A job taken over from a holder that may have sent already looks the ticket up first.
        await runtime.helpdesk.open_ticket(conv, msg, job.idempotency_key, retry=job.attempts > 1)

    return open_ticket


def ticket_jobs(count: int, start: int = 0) -> list[NewJob]:
    return [NewJob(OPEN_TICKET, {"n": n}, f"ticket:{n}", f"x:dm:{n}") for n in range(start, start + count)]


async def wait_for(check: Callable[[], bool], seconds: float) -> float:
    """Wait until `check()` holds, at most `seconds` (real time); how long it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise TimeoutError(f"not within {seconds} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


# -- LISTEN/NOTIFY ---------------------------------------------------------------------------------------
async def test_a_job_enqueued_on_one_replica_wakes_another_within_a_second(
    postgres_url: str, replicas: list[Gateway]
) -> None:
    clock = Clock()
    a = await open_replica(postgres_url, None, clock)  # no workers: it only takes webhooks
    replicas.append(a)
    b = await open_replica(
        postgres_url, a.sandbox, clock, SAV_BRIDGE_WORKERS__COUNT="2", SAV_BRIDGE_WORKERS__POLL_SECONDS="60"
    )
    replicas.append(b)
    b.runtime.start_workers()
    await asyncio.sleep(0.5)  # B's workers found nothing and wait for a minute's poll, or a notice

    claire = Customer("2100000000000000001", "claire_dupont", "Claire Dupont")
    answer = await a.post_x(a.x.customer_dm(claire, "ma carte est bloquée"))  # a group commit on A
    assert answer.status_code == 200
    took = await wait_for(lambda: len(a.zendesk.tickets) == 1, 1.0)
    await a.runtime.store.enqueue(ticket_jobs(1, start=7))  # Store.enqueue on A
    took = max(took, await wait_for(lambda: len(a.zendesk.tickets) == 2, 1.0))
    assert took < 1.0
