"""Posting-policy versions kept in the store: drafts, the one active version, the retired ones.

Every replica reads the active version's id (`active_id`, one indexed row) every few seconds and
recompiles when it changed, so activating a version (or an older one: a rollback) switches them all
without a restart. Exactly one version is active: activation retires the previous one in the same
transaction, and a partial unique index refuses a second active row whatever the code does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sav_bridge.store.database import Database, Row, Tx, storable_text

Clock = Callable[[], float]
DRAFT, ACTIVE, RETIRED = "draft", "active", "retired"
#: A number for PostgreSQL's advisory lock: replicas starting together seed version 1 once.
SEED_LOCK = 7283452
#: PostgreSQL's NOTIFY channel an activation wakes every replica on (`Database.listen`).
ACTIVATED = "sav_bridge_policy_activated"


@dataclass(frozen=True)
class PolicyVersion:
    id: int
    yaml: str
    author: str
    comment: str
    status: str
    created_at: float
    activated_at: float | None
    activated_by: str | None

    @classmethod
    def from_row(cls, row: Row) -> PolicyVersion:
        return cls(int(row["id"]), str(row["yaml"]), str(row["author"]), str(row["comment"]), str(row["status"]),
                   float(row["created_at"]), _float(row["activated_at"]), row["activated_by"])  # fmt: skip

    def as_json(self, with_yaml: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "author": self.author, "comment": self.comment, "status": self.status,
            "created_at": self.created_at, "activated_at": self.activated_at, "activated_by": self.activated_by,
        }  # fmt: skip
        if with_yaml:
            data["yaml"] = self.yaml
        return data


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class UnknownVersion(LookupError):
    """No policy version has this id."""


class PolicyVersions:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def seed(self, yaml: str, source: str) -> PolicyVersion:
        """The active version; when the store holds none yet, `yaml` (the file policy) becomes version 1."""
        async with self.db.transaction() as tx:
            if self.db.dialect == "postgresql":
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (SEED_LOCK,))
            row = await tx.fetchone("SELECT * FROM policy_versions WHERE status = ?", (ACTIVE,))
            if row is not None:
                return PolicyVersion.from_row(row)
            now = self.clock()
            row = await tx.fetchone(
                "INSERT INTO policy_versions (yaml, author, comment, status, created_at, activated_at, activated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (yaml, "sav-bridge", f"seeded from {source}", ACTIVE, now, now, "sav-bridge"),
            )
        assert row is not None
        return PolicyVersion.from_row(row)

    async def create(self, yaml: str, author: str, comment: str) -> PolicyVersion:
        """A new draft (its text already validated by the caller)."""
        now = self.clock()
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO policy_versions (yaml, author, comment, status, created_at) VALUES (?, ?, ?, ?, ?)"
                " RETURNING *",
                (yaml, storable_text(author), storable_text(comment), DRAFT, now),
            )
        assert row is not None
        return PolicyVersion.from_row(row)

    async def get(self, version_id: int) -> PolicyVersion:
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT * FROM policy_versions WHERE id = ?", (version_id,))
        if row is None:
            raise UnknownVersion(version_id)
        return PolicyVersion.from_row(row)

    async def all(self) -> list[PolicyVersion]:
        """Every version, newest first."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall("SELECT * FROM policy_versions ORDER BY id DESC")
        return [PolicyVersion.from_row(row) for row in rows]

    async def active_id(self) -> int | None:
        """The active version's id: the cheap read each replica repeats to notice a switch."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT id FROM policy_versions WHERE status = ?", (ACTIVE,))
        return int(row["id"]) if row else None

    async def activate(self, version_id: int, who: str) -> PolicyVersion:
        """Make `version_id` the active version (a draft, or a retired one: a rollback); the previous
        active version is retired in the same transaction."""
        now = self.clock()
        async with self.db.transaction() as tx:
            if self.db.dialect == "postgresql":
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (SEED_LOCK,))
            row = await tx.fetchone("SELECT * FROM policy_versions WHERE id = ?", (version_id,))
            if row is None:
                raise UnknownVersion(version_id)
            if row["status"] == ACTIVE:
                return PolicyVersion.from_row(row)
            await tx.execute("UPDATE policy_versions SET status = ? WHERE status = ?", (RETIRED, ACTIVE))
            if self.db.dialect == "postgresql":  # delivered at commit: replicas switch at once, not next poll
                await tx.execute("SELECT pg_notify(?, ?)", (ACTIVATED, str(version_id)))
            row = await tx.fetchone(
                "UPDATE policy_versions SET status = ?, activated_at = ?, activated_by = ? WHERE id = ? RETURNING *",
                (ACTIVE, now, storable_text(who), version_id),
            )
        assert row is not None
        return PolicyVersion.from_row(row)


class AdminLog:
    """Who changed what through the compliance API, when and from where (append-only)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def write(self, actor: str, action: str, target: str, address: str, detail: dict[str, Any]) -> None:
        async with self.db.transaction() as tx:
            await self.write_in(tx, actor, action, target, address, detail)

    async def write_in(
        self, tx: Tx, actor: str, action: str, target: str, address: str, detail: dict[str, Any]
    ) -> None:
        """`write` inside the caller's transaction: the change and its entry commit together."""
        await tx.execute(
            "INSERT INTO admin_log (at, actor, action, target, address, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (
                self.clock(),
                *map(storable_text, (actor, action, target, address)),
                storable_text(json.dumps(detail, ensure_ascii=False)),
            ),
        )

    async def read(self, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        """The newest entries first, `limit` of them, older than the entry `before` when given."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT * FROM admin_log WHERE id < ? ORDER BY id DESC LIMIT ?", (before or 2**62, limit)
            )
        return [{**row, "detail": json.loads(row["detail"])} for row in rows]
