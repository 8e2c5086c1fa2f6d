"""A claim never reads the done jobs: its plan uses indexes over unfinished jobs only (revision 0007), so
the queue stays as fast after a million deliveries as on the first day (`bench/claim_scaling.py`
measures it)."""

from __future__ import annotations

import pytest

from sav_bridge.store import NewJob, open_store
from sav_bridge.store.repository import CLAIM

pytestmark = pytest.mark.asyncio


async def test_the_claim_reads_only_indexes_over_unfinished_jobs(sqlite_url: str) -> None:
    store = await open_store(sqlite_url)
    try:
        await store.enqueue(NewJob("t", {}, f"k{i}", f"conv-{i % 7}") for i in range(50))
        while (job := await store.claim(60)) is not None and job.id <= 40:
            await store.finish(job)
        async with store.db.transaction() as tx:
            await tx.execute("ANALYZE")
            plan = [r["detail"] for r in await tx.fetchall("EXPLAIN QUERY PLAN " + CLAIM, (0, 0))]
    finally:
        await store.close()
    reads = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
    assert reads and all("jobs_runnable" in step or "jobs_unfinished" in step for step in reads), plan
    assert any("jobs_unfinished" in step for step in reads), plan


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
