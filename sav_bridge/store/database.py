"""The two SQL backends behind one tiny interface: a transaction that executes `?`-style SQL.

SQLite (default) runs on one aiosqlite connection in WAL mode with `synchronous=FULL`, so a committed
event survives a power cut; writers are serialised by a lock, which SQLite would do anyway.
PostgreSQL runs on a psycopg connection pool, for several replicas sharing one database
(`store.postgres`, imported only for a PostgreSQL URL: psycopg and its pool are ~10 MB of a process).

Inbound work (webhooks) does not queue behind the workers on that connection: `write_batch` runs the
units of concurrent requests in one transaction on a connection of its own (`store.ingest` gathers
them), so a batch costs one commit, one fsync, however many requests it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import aiosqlite

from sav_bridge.errors import Unavailable
from sav_bridge.store.gate import RETRY_SECONDS, Gate
from sav_bridge.store.turns import Turns

if TYPE_CHECKING:
    from sav_bridge.store.postgres import PostgresDatabase

log = logging.getLogger(__name__)

#: The most connections a process's PostgreSQL pool opens (they are opened as needed, one kept open).
POOL_SIZE = 10

Row = dict[str, Any]
Params = Sequence[Any]


def storable_text(text: str) -> str:
    """Text any database keeps: PostgreSQL refuses NUL, and no driver encodes a lone surrogate."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "replace").decode("utf-8")


class Tx(Protocol):
    """One open transaction; `dialect` as its `Database`'s, for the rare statement written per dialect."""

    dialect: str

    async def execute(self, sql: str, params: Params = ()) -> int: ...
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


#: One request's share of a batch: its queries, over the batch's transaction.
Unit = Callable[[Tx], Awaitable[Any]]
#: What a batch does last, in its transaction, given what each unit gave (`Store`: the facts they changed).
Finish = Callable[[Tx, "list[Outcome]"], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What one unit of a batch gave: its value, or the error that rolled back its part alone."""

    value: Any = None
    error: Exception | None = None


class Database(Protocol):
    """A connection source; `dialect` is "sqlite" or "postgresql"."""

    dialect: str

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...
    async def write_batch(self, units: Sequence[Unit], finish: Finish | None = None) -> list[Outcome]:
        """Run `units` in one transaction on the connection kept for inbound work, then `finish`, then
        commit once. A unit's error undoes that unit's writes only and is its outcome; `Unavailable` if
        the transaction itself fails (or `finish`): then none of the units' writes are kept."""
        ...

    async def close(self) -> None: ...
    async def listen(self, channel: str, heard: Callable[[], None], stop: asyncio.Event) -> None:
        """Call `heard` on each notice sent to `channel` (PostgreSQL's NOTIFY) until `stop`; SQLite,
        a single process, has none: it returns once `stop` is set."""
        ...


class _SqliteTx:
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(sql, tuple(params))
        return cursor.rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        cursor = await self._conn.execute(sql, tuple(params))
        row = await cursor.fetchone()
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = await self._conn.execute(sql, tuple(params))
        return [dict(r) for r in await cursor.fetchall()]


class _PlainSqliteTx:
    """A transaction on the inbound connection (plain sqlite3). Its statements run right here on the
    event loop's thread: each takes microseconds once the batch holds the write lock, whereas a hop to
    a driver thread per statement waits for the GIL (up to 5 ms each under load)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row = self._conn.execute(sql, tuple(params)).fetchone()
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return [dict(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]


class _UnitFailed(Exception):
    """A unit raised in a batch run without savepoints: that run is rolled back and done again."""


async def run_batch(
    transaction: Callable[[], AbstractAsyncContextManager[Tx]],
    units: Sequence[Unit],
    finish: Finish | None = None,
) -> list[Outcome]:
    """`write_batch` over any transaction. Units almost never fail (a duplicate is not a failure), so
    they first run plainly, one after the other; only when one raises is that transaction rolled back
    and the batch run again with a savepoint per unit, so that the failure undoes its own writes only.
    (Units only query: running one twice is running it once.)"""
    try:
        async with transaction() as tx:
            outcomes = []
            for unit in units:
                try:
                    outcomes.append(Outcome(await unit(tx)))
                except Exception as exc:
                    raise _UnitFailed from exc
            if finish is not None:
                await finish(tx, outcomes)
            return outcomes
    except _UnitFailed:
        pass
    async with transaction() as tx:
        outcomes = [await _in_savepoint(tx, unit) for unit in units]
        if finish is not None:
            await finish(tx, outcomes)
        return outcomes


async def _in_savepoint(tx: Tx, unit: Unit) -> Outcome:
    """Run one unit of a batch so that its failure undoes its own writes and nothing else."""
    await tx.execute("SAVEPOINT unit")
    try:
        value = await unit(tx)
    except Exception as exc:
        await tx.execute("ROLLBACK TO unit")
        await tx.execute("RELEASE unit")
        return Outcome(error=exc)
    await tx.execute("RELEASE unit")
    return Outcome(value)


def batch_failed(exc: BaseException) -> Unavailable:
    """What `write_batch` raises when its driver could not commit the batch."""
    return Unavailable("database", f"inbound events not stored: {type(exc).__name__}: {exc}")


SQLITE_BUSY_MS = 5000
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={SQLITE_BUSY_MS}", "foreign_keys=ON")


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(
        self, conn: aiosqlite.Connection, inbound: sqlite3.Connection | None = None, gate: Gate | None = None
    ) -> None:
        """`inbound`: a second connection to the same file for `write_batch` (none for a database in
        memory, which only one connection sees: its batches then share the first); `gate`: inbound
        batches first among the processes writing the file (`store.gate`)."""
        self._conn = conn
        self._turns = Turns()
        self._gate = gate
        self._inbound = inbound
        self._inbound_thread = ThreadPoolExecutor(1, "sav-bridge-inbound") if inbound else None

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        """Open (creating it if needed) the file; `Unavailable` if it cannot be created or written."""
        conn: aiosqlite.Connection | None = None
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
            conn.row_factory = sqlite3.Row
            for pragma in SQLITE_PRAGMAS:
                await conn.execute(f"PRAGMA {pragma}")
            inbound = None if path == ":memory:" else _open_inbound(path)
            gate = None if path == ":memory:" else Gate(f"{path}-gate")
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                await conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if isinstance(exc, FileExistsError):  # what mkdir says when a parent is a file
                reason = "a parent of it is a file, not a folder"
            raise Unavailable("database", f"cannot open the SQLite file {path}: {reason}") from None
        return cls(conn, inbound, gate)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTx]:
        async with self._turns.turn():
            if self._gate is not None and not self._gate.pass_through():
                await asyncio.to_thread(self._gate.pass_through, True)  # a batch of another process first
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def write_batch(self, units: Sequence[Unit], finish: Finish | None = None) -> list[Outcome]:
        try:
            if self._inbound is None:
                return await run_batch(self.transaction, units, finish)
            async with self._turns.turn(urgent=True):
                return await run_batch(self._inbound_transaction, units, finish)
        except sqlite3.Error as exc:
            raise batch_failed(exc) from None

    @asynccontextmanager
    async def _inbound_transaction(self) -> AsyncIterator[_PlainSqliteTx]:
        conn = self._inbound
        if conn is None:
            raise RuntimeError("no inbound connection")
        loop = asyncio.get_running_loop()
        if self._gate is not None and not self._gate.hold():
            await loop.run_in_executor(self._inbound_thread, self._gate.hold, True)
        try:
            await self._begin_inbound(conn)
            yield _PlainSqliteTx(conn)
            # The commit waits for the disk (fsync): on the inbound thread, while the loop serves others.
            await loop.run_in_executor(self._inbound_thread, conn.execute, "COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        finally:
            if self._gate is not None:
                self._gate.release()

    async def _begin_inbound(self, conn: sqlite3.Connection) -> None:
        """Take the write lock: at once when no other process holds it (our turn says no connection of
        ours does), else wait for it on the inbound thread, never on the event loop."""
        try:
            conn.execute("BEGIN IMMEDIATE")  # the inbound connection's busy_timeout is 0
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._inbound_thread, _begin_waiting, conn)

    async def close(self) -> None:
        if self._gate is not None:
            gate, self._gate = (
                self._gate,
                None,
            )  # its descriptors' numbers may be reused: never flock them again
            gate.close()
        if self._inbound is not None:
            self._inbound.close()
        if self._inbound_thread is not None:
            self._inbound_thread.shutdown()
        await self._conn.close()

    async def listen(self, channel: str, heard: Callable[[], None], stop: asyncio.Event) -> None:
        await stop.wait()


def _open_inbound(path: str) -> sqlite3.Connection:
    """The connection of inbound batches: same file, same durability, a thread of its own for what
    waits (the commit's fsync, another process's lock); no busy wait unless asked (`_begin_waiting`)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    for pragma in (*SQLITE_PRAGMAS, "busy_timeout=0"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _begin_waiting(conn: sqlite3.Connection) -> None:
    """Ask for the write lock every `gate.RETRY_SECONDS` (not SQLite's busy handler, which sleeps 1, 2,
    5, 10… ms): the gate keeps other transactions from starting meanwhile, so the wait is for one."""
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(RETRY_SECONDS)


def is_postgres(url: str) -> bool:
    """Whether a `database_url` setting names PostgreSQL."""
    return urlsplit(url).scheme in ("postgres", "postgresql")


def driver_failures(url: str) -> tuple[type[Exception], ...]:
    """What the driver of the database at `url` raises when it cannot be reached or written (the edge
    answers those 503, to be retried); psycopg's are imported only for PostgreSQL."""
    if is_postgres(url):
        from sav_bridge.store.postgres import FAILURES

        return FAILURES
    return (sqlite3.OperationalError,)  # disk I/O error, database or disk full, read-only, locked too long


async def open_database(url: str, pool_size: int = POOL_SIZE) -> SqliteDatabase | PostgresDatabase:
    """Open the database named by a `database_url` setting (PostgreSQL: a pool of `pool_size` at most)."""
    if url.startswith("sqlite:///"):
        return await SqliteDatabase.open(url[len("sqlite:///") :] or ":memory:")
    scheme = urlsplit(url).scheme
    if scheme in ("postgres", "postgresql"):
        from sav_bridge.store.postgres import PostgresDatabase

        return await PostgresDatabase.open("postgresql" + url[len(scheme) :], pool_size)
    raise ValueError(f"unsupported database_url scheme {scheme!r}")
