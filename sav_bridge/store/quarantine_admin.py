"""Quarantined bodies as an operator sees them: authentic webhook bodies (or polled pages) the parser of
their day could not read, kept by `Store.quarantine` with their source, SHA-256 and the reason.

A body read successfully by a later parser (`sav-bridge quarantine replay`) leaves the table in the
transaction that logs who replayed it; one still unreadable stays, with today's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sav_bridge.store.database import Database, Row, storable_text
from sav_bridge.store.job_admin import Change
from sav_bridge.store.policies import AdminLog

Clock = Callable[[], float]
#: What a listing shows of each row (never the body).
SUMMARY = "id, source, digest, reason, received_at, length(body) AS size"


class QuarantineAdmin:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._log = AdminLog(db, clock)

    async def find(self, source: str | None = None, limit: int = 50) -> list[Row]:
        """Rows newest first, without their bodies, at most `limit` + 1 (one more says there are more)."""
        async with self.db.transaction() as tx:
            if source is None:
                return await tx.fetchall(
                    f"SELECT {SUMMARY} FROM quarantine ORDER BY id DESC LIMIT ?", (limit + 1,)
                )
            return await tx.fetchall(
                f"SELECT {SUMMARY} FROM quarantine WHERE source = ? ORDER BY id DESC LIMIT ?",
                (source, limit + 1),
            )

    async def get(self, row_id: int) -> Row | None:
        async with self.db.transaction() as tx:
            return await tx.fetchone("SELECT * FROM quarantine WHERE id = ?", (row_id,))

    async def ids(self, source: str | None = None) -> list[int]:
        """Every row (of `source`), oldest first: the order a bulk replay keeps."""
        async with self.db.transaction() as tx:
            if source is None:
                rows = await tx.fetchall("SELECT id FROM quarantine ORDER BY id")
            else:
                rows = await tx.fetchall("SELECT id FROM quarantine WHERE source = ? ORDER BY id", (source,))
        return [int(r["id"]) for r in rows]

    async def release(self, row: Row, change: Change, detail: dict[str, Any]) -> bool:
        """Remove a row whose body was read and accepted, logging it; False if another replay did first."""
        async with self.db.transaction() as tx:
            gone = await tx.execute("DELETE FROM quarantine WHERE id = ?", (row["id"],))
            if gone:
                await self._log.write_in(
                    tx, change.actor, "quarantine.replay", f"quarantine/{row['id']}", change.address,
                    {"source": row["source"], "digest": row["digest"], **detail},
                )  # fmt: skip
            return bool(gone)

    async def keep(self, row: Row, reason: str, change: Change, detail: dict[str, Any]) -> None:
        """A replay that still could not read all of the body: the row stays with today's reason."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE quarantine SET reason = ? WHERE id = ?", (storable_text(reason[:2000]), row["id"])
            )
            await self._log.write_in(
                tx, change.actor, "quarantine.replay", f"quarantine/{row['id']}", change.address,
                {"source": row["source"], "digest": row["digest"], "still": reason[:300], **detail},
            )  # fmt: skip
