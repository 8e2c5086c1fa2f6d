"""A claim never reads the done jobs: its plan uses indexes over unfinished jobs only (revisions 0007, 0010), so
the queue stays as fast after a million deliveries as on the first day (`bench/claim_scaling.py`
measures it)."""

from __future__ import annotations

import pytest

from sav_bridge.store import NewJob, open_store
from sav_bridge.store.repository import CLAIM_EXPIRED, CLAIM_PENDING

pytestmark = pytest.mark.asyncio


async def test_the_claim_reads_only_indexes_over_unfinished_jobs(sqlite_url: str) -> None:
    store = await open_store(sqlite_url)
    try:
        await store.enqueue(NewJob("t", {}, f"k{i}", f"conv-{i % 7}") for i in range(50))
        while (job := await store.claim(60)) is not None and job.id <= 40:
            await store.finish(job)
        async with store.db.transaction() as tx:
            await tx.execute("ANALYZE")
            plans = [
                [r["detail"] for r in await tx.fetchall("EXPLAIN QUERY PLAN " + query.format(skip=""), (0,))]
                for query in (CLAIM_EXPIRED, CLAIM_PENDING)
            ]
    finally:
        await store.close()
    # Each read goes through an index keyed by the job's state first (or over unfinished jobs only), so
    # it starts at the unfinished ones and never visits a done job; nothing is sorted afterwards.
    by_state = ("jobs_leased", "jobs_pending", "jobs_unfinished", "jobs_ready (state=?")
    for plan in plans:
        reads = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
        assert reads and all(any(index in step for index in by_state) for step in reads), plan
        assert any("jobs_unfinished" in step for step in reads), plan
        assert not any("TEMP B-TREE" in step for step in plan), plan


async def test_done_jobs_do_not_change_what_is_claimed_first(database_url: str) -> None:
    """Order per conversation holds through the new indexes: the oldest unfinished job of each
    conversation, oldest first, whatever is done around it."""
    store = await open_store(database_url)
    try:
        await store.enqueue(NewJob("t", {}, f"k{i}", f"conv-{i % 3}") for i in range(9))
        order = []
        while (job := await store.claim(60)) is not None:
            order.append(job.idempotency_key)
            await store.finish(job)
    finally:
        await store.close()
    assert order == [f"k{i}" for i in range(9)]
