"""A worker that stalls past its lease loses the job to another replica and writes nothing after it wakes.

Two gateways (replicas) share one database, one X sandbox and one clock. Replica A claims the reply's
job and freezes (an injected pause) at a chosen point; the clock passes its lease; replica B takes the
job over and posts the reply; A wakes. Whatever the point, X holds exactly one post and the ticket one
"posted" note, and A counted a lost lease."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sav_bridge.lease import Lease, LeaseLost
from sav_bridge.store import Store
from tests.harness import Gateway
from tests.test_one_post import POST, agent_answers, gateways, open_gateway, posted_notes, public_ticket

pytestmark = pytest.mark.asyncio
__all__ = ["gateways"]  # the fixture, imported for this module's tests


class Pause:
    """Freezes the replica whose store method it wraps, on the first call, until `resume`."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self._resume = asyncio.Event()
        self.used = False

    def resume(self) -> None:
        self._resume.set()

    async def hold(self) -> None:
        if not self.used:
            self.used = True
            self.reached.set()
            await self._resume.wait()


def pause_around(store: Store, method: str, pause: Pause, after: bool) -> None:
    original: Callable[..., Awaitable[Any]] = getattr(store, method)

    async def paused(*args: Any, **kwargs: Any) -> Any:
        if not after:
            await pause.hold()
        result = await original(*args, **kwargs)
        if after:
            await pause.hold()
        return result

    setattr(store, method, paused)


async def take_over(stalled: Gateway, other: Gateway, pause: Pause) -> None:
    """A runs until it freezes; its lease runs out; B does the job; A wakes and finishes its drain."""
    frozen = asyncio.ensure_future(stalled.drain())
    await asyncio.wait_for(pause.reached.wait(), 10)
    [job] = await other.runtime.store.job_rows("running")
    other.clock.advance(job["lease_until"] - other.clock.now + 1)
    await other.settle()
    pause.resume()
    await asyncio.wait_for(frozen, 10)
    await other.settle()


@pytest.mark.parametrize(
    "after", [False, True], ids=["frozen-before-recording-the-intent", "frozen-after-recording-the-intent"]
)
async def test_a_stalled_worker_loses_its_job_and_posts_nothing_when_it_wakes(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway], after: bool
) -> None:
    replica_a = await open_gateway(database_url, vendor_dir)
    gateways.append(replica_a)
    replica_b = await open_gateway(database_url, vendor_dir, replica_a.sandbox, replica_a.clock)
    gateways.append(replica_b)
    tweet_id, ticket_id = await public_ticket(replica_a)
    pause = Pause()
    pause_around(replica_a.runtime.store, "record_intent", pause, after)
    await agent_answers(replica_a, ticket_id, "Merci de votre patience, votre carte est débloquée.")

    await take_over(replica_a, replica_b, pause)

    [post] = replica_a.x.brand_posts
    assert post.in_reply_to == tweet_id and len(replica_a.x.calls("POST", POST)) == 1
    assert len(posted_notes(replica_a, ticket_id)) == 1
    assert set(await replica_b.runtime.store.jobs_by_state()) == {"done"}
    assert replica_a.runtime.metrics.leases_lost._value.get() == 1


async def test_a_lease_is_renewed_while_its_job_runs() -> None:
    """The heartbeat and the check before a call extend the lease; once another holder has it, the
    check refuses."""
    now = [1000.0]
    renewals: list[bool] = [True, True, False]
    lease = Lease(7, 1, 1000.0 + 90, 90, lambda: _answer(renewals), lambda: now[0])
    await lease.ensure()  # 90 s left: nothing to do
    assert renewals == [True, True, False]
    now[0] += 70  # 20 s left, under a third: renewed before the call
    await lease.ensure()
    assert lease.until == now[0] + 90 and renewals == [True, False]
    assert await lease.renew()
    now[0] += 80
    with pytest.raises(LeaseLost):
        await lease.ensure()  # renewal refused: another holder has the job
    assert lease.lost


async def _answer(answers: list[bool]) -> bool:
    return answers.pop(0)
