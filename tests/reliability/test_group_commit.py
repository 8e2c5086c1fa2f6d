"""Group commit of inbound requests (`sav_bridge.store.ingest`), on SQLite and PostgreSQL.

Concurrent accepts share commits; each caller returns only once its own rows are committed (another
connection sees them); a duplicate is absorbed without failing its batch; a commit that fails fails
every request of its batch and keeps nothing; SQLite stays `synchronous=FULL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
import pytest

from sav_bridge.errors import Unavailable
from sav_bridge.store import NewJob, Store, open_store
from sav_bridge.store.database import Database, Finish, Outcome, Tx, Unit
from sav_bridge.store.ingest import Inbox
from tests.conftest import postgres_schema_url


class CountingDatabase:
    """The real database, counting the transactions inbound batches commit."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.dialect
        self.batches: list[int] = []

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        return self.db.transaction()

    async def write_batch(self, units: Sequence[Unit], finish: Finish | None = None) -> list[Outcome]:
        self.batches.append(len(units))
        return await self.db.write_batch(units, finish)

    async def close(self) -> None:
        await self.db.close()

    async def listen(self, channel: str, heard: Any, stop: asyncio.Event) -> None:
        await self.db.listen(channel, heard, stop)


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[tuple[Store, CountingDatabase]]:
    counting = CountingDatabase((await open_store(database_url)).db)
    store = Store(counting)
    yield store, counting
    await store.close()


def committed_events(database_url: str) -> set[str]:
    """Event ids another connection sees: what is committed, not what a transaction holds."""
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url[len("sqlite:///") :])) as conn:
            return {row[0] for row in conn.execute("SELECT event_id FROM events")}
    with psycopg.connect(database_url) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM events").fetchall()}


def job(key: str) -> NewJob:
    return NewJob("x.message", {"key": key}, f"job:{key}", f"thread:{key}")


async def accept(store: Store, event_id: str) -> bool:
    return await store.accept_event("x", event_id, "mention", {"id": event_id}, [job(event_id)])


async def test_concurrent_accepts_share_commits_and_each_returns_once_committed(
    counted: tuple[Store, CountingDatabase], database_url: str
) -> None:
    store, db = counted
    seen_at_return: dict[str, bool] = {}

    async def one(event_id: str) -> None:
        assert await accept(store, event_id)
        # Checked by another connection the moment the caller gets its answer: a 2xx means durable.
        seen_at_return[event_id] = event_id in await asyncio.to_thread(committed_events, database_url)

    await asyncio.gather(*(one(f"e{n}") for n in range(60)))
    assert seen_at_return == {f"e{n}": True for n in range(60)}
    assert sum(db.batches) == 60
    assert len(db.batches) < 60 / 4, db.batches  # shared commits, not one each
    assert (await store.count("events"), await store.count("jobs")) == (60, 60)


async def test_a_duplicate_in_the_batch_is_reported_and_does_not_fail_the_others(
    counted: tuple[Store, CountingDatabase],
) -> None:
    store, db = counted
    assert await accept(store, "known")
    results = await asyncio.gather(
        accept(store, "a"), accept(store, "known"), accept(store, "b"), accept(store, "b"), accept(store, "c")
    )
    assert db.batches[-1] == 5  # all in one batch
    assert results[0] and not results[1] and results[4]
    assert sorted(results[2:4]) == [False, True]  # the same event twice in one batch: kept once
    assert (await store.count("events"), await store.count("jobs")) == (4, 4)


async def test_a_failing_commit_fails_every_request_of_its_batch_and_stores_nothing(
    counted: tuple[Store, CountingDatabase], database_url: str
) -> None:
    store, db = counted
    # A deferred foreign key is checked at COMMIT: the statement passes, the commit itself fails.
    async with db.transaction() as tx:
        await tx.execute("CREATE TABLE parent_t (id INTEGER PRIMARY KEY)")
        await tx.execute(
            "CREATE TABLE child_t (parent INTEGER REFERENCES parent_t (id) DEFERRABLE INITIALLY DEFERRED)"
        )

    async def poisoned(inbox: Inbox) -> bool:
        await inbox.tx.execute("INSERT INTO child_t (parent) VALUES (42)")
        return await inbox.accept("x", "poisoned", "mention", {}, [job("poisoned")])

    results = await asyncio.gather(
        accept(store, "a"), store.inbound(poisoned), accept(store, "b"), return_exceptions=True
    )
    assert db.batches[-1] == 3
    assert all(isinstance(r, Unavailable) for r in results), results
    assert committed_events(database_url) == set()
    assert await store.count("jobs") == 0
    # The connection is usable again: the next batch commits.
    assert await accept(store, "after")
    assert committed_events(database_url) == {"after"}


async def test_a_request_that_fails_on_its_own_undoes_only_its_writes(
    counted: tuple[Store, CountingDatabase],
) -> None:
    store, db = counted

    async def broken(inbox: Inbox) -> bool:
        await inbox.accept("x", "half", "mention", {}, [job("half")])
        raise ValueError("the request's own bug")

    results = await asyncio.gather(
        accept(store, "a"), store.inbound(broken), accept(store, "b"), return_exceptions=True
    )
    assert db.batches[-1] == 3
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], ValueError)
    assert (await store.count("events"), await store.count("jobs")) == (2, 2)


async def test_a_fact_changed_by_every_request_is_applied_in_order_except_for_a_failed_one(
    counted: tuple[Store, CountingDatabase],
) -> None:
    store, db = counted

    async def seen(n: int, fail: bool = False) -> int:
        async def work(inbox: Inbox) -> int:
            inbox.update_fact("seen", lambda value: [*(value or []), n])
            if fail:
                raise ValueError("this request's own bug")
            return n

        return await store.inbound(work)

    results = await asyncio.gather(seen(1), seen(2, fail=True), seen(3), seen(4), return_exceptions=True)
    assert db.batches[-1] == 4
    assert results[0] == 1 and isinstance(results[1], ValueError) and results[2:] == [3, 4]
    assert await store.state.get("seen") == [1, 3, 4]


async def test_a_lone_request_is_not_held_long_and_batches_are_bounded(
    counted: tuple[Store, CountingDatabase],
) -> None:
    store, db = counted
    started = time.monotonic()
    assert await accept(store, "alone")
    assert time.monotonic() - started < 1.0
    store.group_commit.max_batch = 8
    await asyncio.gather(*(accept(store, f"e{n}") for n in range(20)))
    assert db.batches[1:] and max(db.batches[1:]) <= 8


async def test_sqlite_inbound_batches_stay_durable(sqlite_url: str) -> None:
    store = await open_store(sqlite_url)

    async def pragmas(inbox: Inbox) -> tuple[Any, Any]:
        sync = await inbox.tx.fetchone("PRAGMA synchronous")
        mode = await inbox.tx.fetchone("PRAGMA journal_mode")
        return (sync or {}).get("synchronous"), (mode or {}).get("journal_mode")

    try:
        assert await store.inbound(pragmas) == (2, "wal")  # 2: FULL, an fsync at every commit
    finally:
        await store.close()


async def test_sqlite_inbound_goes_before_queued_worker_transactions(sqlite_url: str) -> None:
    """Workers queued on their connection do not delay a webhook: it takes the next turn."""
    store = await open_store(sqlite_url)
    db = store.db
    order: list[str] = []

    async def worker(n: int) -> None:
        async with db.transaction() as tx:
            await tx.execute("SELECT 1")
            await asyncio.sleep(0.02)
            order.append(f"worker{n}")

    try:
        workers = [asyncio.create_task(worker(n)) for n in range(5)]
        await asyncio.sleep(0.005)  # the first holds the write lock, four wait for their turn

        async def webhook() -> None:
            await accept(store, "urgent")
            order.append("webhook")

        await asyncio.gather(webhook(), *workers)
        assert order.index("webhook") == 1, order
    finally:
        await store.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_schema_url()


@pytest.mark.postgres
async def test_postgres_inbound_keeps_its_own_connection(postgres_url: str) -> None:
    """Every pooled connection held by workers: a webhook is still stored, on its own connection."""
    store = await open_store(postgres_url)
    db = store.db
    release = asyncio.Event()
    held = 0

    async def hold() -> None:
        nonlocal held
        async with db.transaction():
            held += 1
            await release.wait()

    try:
        holders = [asyncio.create_task(hold()) for _ in range(10)]  # the workers' pool has 10
        while held < 10:
            await asyncio.sleep(0.01)
        assert await asyncio.wait_for(accept(store, "while-busy"), 5)
        release.set()
        await asyncio.gather(*holders)
    finally:
        release.set()
        await store.close()
