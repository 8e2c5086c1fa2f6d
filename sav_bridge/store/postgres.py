"""The PostgreSQL backend (`store.database`'s interface over a psycopg connection pool), for several
replicas sharing one database. Imported only when `database_url` names PostgreSQL: psycopg and
psycopg_pool are ~10 MB of a process that a SQLite gateway does not need.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from sav_bridge.errors import Unavailable
from sav_bridge.store.database import POOL_SIZE, Finish, Outcome, Params, Row, Unit, batch_failed, run_batch

log = logging.getLogger(__name__)

#: What psycopg raises when the database cannot be reached or written (`store.database.driver_failures`).
FAILURES: tuple[type[Exception], ...] = (
    psycopg.OperationalError,  # connection refused or lost, the server shutting down, the pool's wait ran out
    psycopg.InterfaceError,  # a connection already closed
    psycopg.errors.ReadOnlySqlTransaction,  # a replica that is not (yet) the primary
)
#: How long start-up waits for PostgreSQL to answer (a database container starting beside us).
CONNECT_WAIT = 5.0
RETRY_PAUSE = 0.5
#: How a pool lives through the server going away. psycopg_pool retries a lost connection after 1, 2,
#: 4… s until `reconnect_timeout`: with its default (5 min) the next try may come a minute after the
#: server is back; giving a slot up after 5 s lets the next request start over at once. A request waits
#: `timeout` for a connection, then fails (503, to be retried) instead of hanging for the default 30 s.
POOL_RECOVERY: dict[str, Any] = {"reconnect_timeout": 5.0, "timeout": 5.0}
#: A batch of inbound requests waits this long for its connection (one a process, beside the pool the
#: workers share: batches run one at a time), then fails (503).
INBOUND_WAIT = 3.0


_PLACEHOLDER = re.compile(r"\?")


@functools.lru_cache(maxsize=512)
def _postgres_sql(sql: str) -> str:
    """`?` placeholders as psycopg's `%s`, once per statement text (the same few hundred run all day)."""
    return _PLACEHOLDER.sub("%s", sql)


class _PostgresTx:
    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(_postgres_sql(sql), tuple(params))
        return int(cursor.rowcount)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        cursor = await self._conn.execute(_postgres_sql(sql), tuple(params))
        row: Row | None = await cursor.fetchone()
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = await self._conn.execute(_postgres_sql(sql), tuple(params))
        rows: list[Row] = await cursor.fetchall()
        return rows


class _BlockingPostgresTx:
    """A transaction on the inbound connection, run by `InboundThread`: each statement blocks that thread's
    own event loop, never the server's."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        return int(self._conn.execute(_postgres_sql(sql), tuple(params)).rowcount)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(_postgres_sql(sql), tuple(params)).fetchone()
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = self._conn.execute(_postgres_sql(sql), tuple(params)).fetchall()
        return rows


class InboundThread:
    """Inbound batches, run straight through on a thread of their own over one plain connection.

    On the server's event loop each statement of a batch was an `await`, and between two of them the loop
    served every request that had come in meanwhile: a batch of 64 webhooks took 64 turns of a busy loop,
    the next batch grew while it waited, and at 500 webhooks/s p99 climbed to seconds with 503s. Here a
    batch waits only for the database; the server's loop goes on parsing the requests of the next one."""

    def __init__(self, url: str) -> None:
        self._pool: ConnectionPool[Any] = ConnectionPool(
            url, min_size=1, max_size=1, open=False, num_workers=1, kwargs={"row_factory": dict_row},
            **POOL_RECOVERY,
        )  # fmt: skip
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sav-bridge-inbound")
        self._loop: asyncio.AbstractEventLoop | None = None

    async def open(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._pool.open, True, 10.0)

    async def run(self, units: Sequence[Unit], finish: Finish | None) -> list[Outcome]:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, units, finish)

    def _run(self, units: Sequence[Unit], finish: Finish | None) -> list[Outcome]:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()  # this thread's, for every batch
        return self._loop.run_until_complete(run_batch(self._transaction, units, finish))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_BlockingPostgresTx]:
        with self._pool.connection(INBOUND_WAIT) as conn, conn.transaction():
            yield _BlockingPostgresTx(conn)

    async def close(self) -> None:
        def close_all() -> None:
            self._pool.close()
            if self._loop is not None:
                self._loop.close()

        await asyncio.get_running_loop().run_in_executor(self._thread, close_all)
        self._thread.shutdown()


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, pool: AsyncConnectionPool[Any], url: str, inbound: InboundThread) -> None:
        """`inbound`: where `write_batch` runs (a connection the workers never take)."""
        self._pool = pool
        self._url = url
        self._inbound = inbound

    @classmethod
    async def open(
        cls, url: str, max_size: int = POOL_SIZE, wait_seconds: float = CONNECT_WAIT
    ) -> PostgresDatabase:
        """Open the pool once the server answers; `Unavailable` naming host and port after `wait_seconds`."""
        await _wait_for_postgres(url, wait_seconds)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url, min_size=1, max_size=max_size, open=False, kwargs={"row_factory": dict_row}, **POOL_RECOVERY
        )
        inbound = InboundThread(url)
        try:
            await pool.open(wait=True, timeout=10)
            await inbound.open()
        except PoolTimeout:
            await pool.close()
            await inbound.close()
            raise Unavailable("database", f"{_where(url)} stopped answering while the pool opened") from None
        return cls(pool, url, inbound)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTx]:
        async with self._pool.connection() as conn, conn.transaction():
            yield _PostgresTx(conn)

    async def write_batch(self, units: Sequence[Unit], finish: Finish | None = None) -> list[Outcome]:
        try:
            return await self._inbound.run(units, finish)
        except (psycopg.Error, PoolTimeout) as exc:
            raise batch_failed(exc) from None

    async def close(self) -> None:
        await self._inbound.close()
        await self._pool.close()

    async def listen(self, channel: str, heard: Callable[[], None], stop: asyncio.Event) -> None:
        """LISTEN on a connection of its own (a pooled one would be handed to others), reconnecting after
        a failure; the caller's periodic check covers any notice missed meanwhile."""
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    await conn.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(channel)))
                    while not stop.is_set():
                        async for _ in conn.notifies(timeout=1.0):
                            heard()
            except psycopg.Error as exc:
                log.warning("no PostgreSQL notices on %s for now: %s", channel, _reason(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_PAUSE * 10)


async def _wait_for_postgres(url: str, seconds: float) -> None:
    """Try to connect until `seconds` have passed (a database starting beside us), then give up in one line.

    Done with plain connections rather than the pool, whose background retries would log each failure
    and outlive a start-up that has already failed.
    """
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        try:
            conn = await psycopg.AsyncConnection.connect(url, connect_timeout=max(2, math.ceil(remaining)))
        except psycopg.Error as exc:
            if time.monotonic() + RETRY_PAUSE >= deadline:
                raise Unavailable(
                    "database",
                    f"cannot connect to {_where(url)}: {_reason(exc)} (gave up after {seconds:g} s)",
                ) from None
            await asyncio.sleep(RETRY_PAUSE)
        else:
            await conn.close()
            return


def _where(url: str) -> str:
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "PostgreSQL (unparsable database_url)"
    host = info.get("host") or "localhost"
    return f"PostgreSQL at {host}:{info.get('port') or 5432}"


def _reason(exc: psycopg.Error) -> str:
    """libpq's own reason ("Connection refused", "password authentication failed…"), first line only."""
    first = (str(exc).strip().splitlines() or ["no answer"])[0]
    reason = first.rsplit("failed: ", 1)[-1].strip()
    return " ".join(reason.split())
