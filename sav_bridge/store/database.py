"""The two SQL backends behind one tiny interface: a transaction that executes `?`-style SQL.

SQLite (default) runs on one aiosqlite connection in WAL mode with `synchronous=FULL`, so a committed
event survives a power cut; writers are serialised by a lock, which SQLite would do anyway.
PostgreSQL runs on a psycopg connection pool, for several replicas sharing one database.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiosqlite
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

Row = dict[str, Any]
Params = Sequence[Any]


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
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000", "foreign_keys=ON"):
            await conn.execute(f"PRAGMA {pragma}")
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

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, max_size: int = 10) -> PostgresDatabase:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url, min_size=1, max_size=max_size, open=False, kwargs={"row_factory": dict_row}
        )
        await pool.open(wait=True, timeout=10)
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PostgresTx]:
        async with self._pool.connection() as conn, conn.transaction():
            yield _PostgresTx(conn)

    async def close(self) -> None:
        await self._pool.close()


async def open_database(url: str) -> SqliteDatabase | PostgresDatabase:
    """Open the database named by a `database_url` setting."""
    if url.startswith("sqlite:///"):
        return await SqliteDatabase.open(url[len("sqlite:///") :] or ":memory:")
    scheme = urlsplit(url).scheme
    if scheme in ("postgres", "postgresql"):
        return await PostgresDatabase.open("postgresql" + url[len(scheme) :])
    raise ValueError(f"unsupported database_url scheme {scheme!r}")
