"""A claim costs the same with a million done jobs in the table as with none (issue 11, item 2).

`make bench` (or `python -m bench.claim_scaling`) builds two SQLite databases through the migrations,
one empty and one holding `--done` finished jobs spread over
conversations, adds the same 300 runnable jobs to each, then times claim + finish of every runnable job
in each, in the same run, and prints both and their ratio (target: within 1.5×; these machines are
noisy, the ratio is what compares). It also prints the plan the database chose for the claim, which
should read the partial index over pending jobs (`jobs_pending`) in order, not the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from sav_bridge.store import NewJob, Store, open_store
from sav_bridge.store.repository import CLAIM_PENDING

RUNNABLE = 300
CONVERSATIONS = 10_000


async def fill_done(store: Store, count: int) -> None:
    """`count` done jobs, written in large batches straight into the table (enqueueing them one by one
    would take the whole run)."""
    now = store.clock()
    batch = 20_000
    for first in range(0, count, batch):
        rows = [
            ("x.message", "{}", f"done-{i}", f"conv-{i % CONVERSATIONS}", "done", 1, now - 86_400, now, now)
            for i in range(first, min(count, first + batch))
        ]
        async with store.db.transaction() as tx:
            for row in rows:
                await tx.execute(
                    "INSERT INTO jobs (kind, payload, idempotency_key, ordering_key, state, attempts,"
                    " next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )


async def timed_claims(store: Store) -> float:
    """Seconds per claim + finish, over the runnable jobs (one per conversation, like a backlog)."""
    await store.enqueue(
        NewJob("x.message", {"n": i}, f"run-{uuid.uuid4().hex}", f"conv-{i}") for i in range(RUNNABLE)
    )
    started = time.perf_counter()
    claimed = 0
    while (job := await store.claim(120)) is not None:
        await store.finish(job)
        claimed += 1
    assert claimed == RUNNABLE, claimed
    return (time.perf_counter() - started) / claimed


async def claim_plan(store: Store) -> str:
    async with store.db.transaction() as tx:
        rows = await tx.fetchall("EXPLAIN QUERY PLAN " + CLAIM_PENDING.format(skip=""), (0,))
    return " / ".join(r["detail"] for r in rows)


async def measure(url: str, done: int) -> tuple[float, str]:
    store = await open_store(url)
    try:
        if done:
            started = time.perf_counter()
            await fill_done(store, done)
            print(f"  {done:,} done jobs written in {time.perf_counter() - started:.0f} s")
        return await timed_claims(store), await claim_plan(store)
    finally:
        await store.close()


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        print(f"claim + finish of {RUNNABLE} runnable jobs, SQLite")
        empty, _ = await measure(f"sqlite:///{Path(folder) / 'empty.db'}", 0)
        full, plan = await measure(f"sqlite:///{Path(folder) / 'full.db'}", args.done)
    ratio = full / empty
    verdict = "met" if ratio <= 1.5 else "NOT met"
    print(f"  empty table:           {empty * 1e3:7.2f} ms per claim")
    print(f"  with {args.done:>9,} done: {full * 1e3:7.2f} ms per claim")
    print(f"  ratio: {ratio:.2f} (target ≤ 1.5: {verdict})")
    print(f"  plan: {plan}")
    print(json.dumps({"empty_ms": empty * 1e3, "full_ms": full * 1e3, "ratio": ratio}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--done", type=int, default=1_000_000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
