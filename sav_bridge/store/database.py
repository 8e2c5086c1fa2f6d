"""The two SQL backends behind one tiny interface: a transaction that executes `?`-style SQL.

SQLite (default) runs on one aiosqlite connection in WAL mode with `synchronous=FULL`, so a committed
event survives a power cut; writers are serialised by a lock, which SQLite would do anyway.
PostgreSQL runs on a psycopg connection pool, for several replicas sharing one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiosqlite
import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sav_bridge.errors import Unavailable

log = logging.getLogger(__name__)

#: How long start-up waits for PostgreSQL to answer (a database container starting beside us).
CONNECT_WAIT = 5.0
RETRY_PAUSE = 0.5
#: How a pool lives through the server going away. psycopg_pool retries a lost connection after 1, 2,
#: 4… s until `reconnect_timeout`: with its default (5 min) the next try may come a minute after the
#: server is back; giving a slot up after 5 s lets the next request start over at once. A request waits
#: `timeout` for a connection, then fails (503, to be retried) instead of hanging for the default 30 s.
POOL_RECOVERY: dict[str, Any] = {"reconnect_timeout": 5.0, "timeout": 5.0}

Row = dict[str, Any]
Params = Sequence[Any]


def storable_text(text: str) -> str:
    """Text any database keeps: PostgreSQL refuses NUL, and no driver encodes a lone surrogate."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "replace").decode("utf-8")


class Tx(Protocol):
    """One open transaction."""

    async def execute(self, sql: str, params: Params = ()) -> int: ...
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


class Database(Protocol):
    """A connection source; `dialect` is "sqlite" or "postgresql"."""

    dialect: str

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...
    async def close(self) -> None: ...
    async def listen(self, channel: str, heard: Callable[[], None], stop: asyncio.Event) -> None:
        """Call `heard` on each notice sent to `channel` (PostgreSQL's NOTIFY) until `stop`; SQLite,
        a single process, has none: it returns once `stop` is set."""
        ...


class _SqliteTx:
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


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        """Open (creating it if needed) the file; `Unavailable` if it cannot be created or written."""
        conn: aiosqlite.Connection | None = None
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(path, isolation_level=None)
            conn.row_factory = sqlite3.Row
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000", "foreign_keys=ON"):
                await conn.execute(f"PRAGMA {pragma}")
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                await conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if isinstance(exc, FileExistsError):  # what mkdir says when a parent is a file
                reason = "a parent of it is a file, not a folder"
            raise Unavailable("database", f"cannot open the SQLite file {path}: {reason}") from None
        return cls(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTx]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def close(self) -> None:
        await self._conn.close()

    async def listen(self, channel: str, heard: Callable[[], None], stop: asyncio.Event) -> None:
        await stop.wait()


_PLACEHOLDER = re.compile(r"\?")


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._conn.execute(_PLACEHOLDER.sub("%s", sql), tuple(params))
        return int(cursor.rowcount)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        cursor = await self._conn.execute(_PLACEHOLDER.sub("%s", sql), tuple(params))
        row: Row | None = await cursor.fetchone()
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        cursor = await self._conn.execute(_PLACEHOLDER.sub("%s", sql), tuple(params))
        rows: list[Row] = await cursor.fetchall()
        return rows


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, pool: AsyncConnectionPool[Any], url: str = "") -> None:
        self._pool = pool
        self._url = url

    @classmethod
    async def open(cls, url: str, max_size: int = 10, wait_seconds: float = CONNECT_WAIT) -> PostgresDatabase:
        """Open the pool once the server answers; `Unavailable` naming host and port after `wait_seconds`."""
        await _wait_for_postgres(url, wait_seconds)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url, min_size=1, max_size=max_size, open=False, kwargs={"row_factory": dict_row}, **POOL_RECOVERY
        )
        try:
            await pool.open(wait=True, timeout=10)
        except PoolTimeout:
            await pool.close()
            raise Unavailable("database", f"{_where(url)} stopped answering while the pool opened") from None
        return cls(pool, url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTx]:
        async with self._pool.connection() as conn, conn.transaction():
            yield _PostgresTx(conn)

    async def close(self) -> None:
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


async def open_database(url: str) -> SqliteDatabase | PostgresDatabase:
    """Open the database named by a `database_url` setting."""
    if url.startswith("sqlite:///"):
        return await SqliteDatabase.open(url[len("sqlite:///") :] or ":memory:")
    scheme = urlsplit(url).scheme
    if scheme in ("postgres", "postgresql"):
        return await PostgresDatabase.open("postgresql" + url[len(scheme) :])
    raise ValueError(f"unsupported database_url scheme {scheme!r}")
