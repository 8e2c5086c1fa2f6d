"""The outbox as an operator sees it: find jobs, read what they did, move them by hand, count what alerts.

States of a job: `pending` (waiting for its time or a worker), `running` (claimed under a lease), `done`,
`dead` (given up: it holds its conversation's later jobs until a person acts) and `skipped` (a dead job a
person chose never to run: it releases its conversation). Workers never write `skipped`; only here.

Every hand-made change is one UPDATE guarded by the state it expects, written to the administration log
in the same transaction: two operators acting at once change a job once, and no change goes unrecorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sav_bridge.store.database import Database, Row, Tx
from sav_bridge.store.policies import AdminLog

Clock = Callable[[], float]

STATES = ("pending", "running", "done", "dead", "skipped")
#: States that hold the later jobs of their conversation (ordering key).
UNFINISHED = ("pending", "running", "dead")
_UNFINISHED_SQL = "('pending', 'running', 'dead')"
#: The oldest dead job before this one in its conversation: what keeps it from running.
_HELD_BY = (
    "(SELECT MIN(d.id) FROM jobs d WHERE d.ordering_key = j.ordering_key AND d.id < j.id"
    " AND d.state = 'dead') AS held_by"
)


@dataclass(frozen=True)
class JobFilter:
    """Which jobs to list; None matches any. `created_before` is an epoch (the `--older-than` bound)."""

    state: str | None = None
    kind: str | None = None
    ordering_key: str | None = None
    created_before: float | None = None
    limit: int = 50


@dataclass(frozen=True)
class Change:
    """Who moves a job or a quarantined body by hand, from where and why, for the administration log."""

    actor: str
    address: str
    reason: str = ""


@dataclass(frozen=True)
class QueueHealth:
    """What the operator alerts read: dead jobs by kind, conversations a dead job holds, and since when
    the oldest runnable job waits for a worker (None: none waits)."""

    dead_by_kind: dict[str, int]
    held_conversations: int
    oldest_runnable_since: float | None


class JobAdmin:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._log = AdminLog(db, clock)

    # -- reading -----------------------------------------------------------------------------------
    async def find(self, where: JobFilter) -> list[Row]:
        """Jobs matching `where`, newest first, at most `limit` + 1 (one more says there are more)."""
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("j.state = ?", where.state),
            ("j.kind = ?", where.kind),
            ("j.ordering_key = ?", where.ordering_key),
            ("j.created_at <= ?", where.created_before),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.db.transaction() as tx:
            return await tx.fetchall(
                f"SELECT j.*, {_HELD_BY} FROM jobs j{condition} ORDER BY j.id DESC LIMIT ?",
                (*params, where.limit + 1),
            )

    async def get(self, job_id: int) -> Row | None:
        async with self.db.transaction() as tx:
            return await tx.fetchone(f"SELECT j.*, {_HELD_BY} FROM jobs j WHERE j.id = ?", (job_id,))

    async def archived(self, job_id: int) -> Row | None:
        """A finished job retention moved to `jobs_archive`, shaped as a job row (no payload, no error;
        `updated_at` is when it finished), with `archived` set."""
        async with self.db.transaction() as tx:
            return await tx.fetchone(
                "SELECT id, kind, idempotency_key, ordering_key, state, attempts, created_at,"
                " finished_at AS updated_at, finished_at AS next_attempt_at, '{}' AS payload, NULL AS last_error,"
                " NULL AS lease_until, 0 AS lease_token, NULL AS held_by, 1 AS archived"
                " FROM jobs_archive WHERE id = ?",
                (job_id,),
            )

    async def behind(self, job_id: int, ordering_key: str, limit: int = 20) -> list[Row]:
        """The unfinished jobs after `job_id` in its conversation (what a dead one holds), oldest first."""
        async with self.db.transaction() as tx:
            return await tx.fetchall(
                f"SELECT id, kind, state FROM jobs WHERE ordering_key = ? AND id > ? AND state IN {_UNFINISHED_SQL}"
                " ORDER BY id LIMIT ?",
                (ordering_key, job_id, limit),
            )

    async def effects(self, prefixes: Sequence[str]) -> list[Row]:
        """Effect and intent records whose key starts with one of `prefixes` (an intent's key is its
        write's, behind `intent:`), oldest first."""
        if not prefixes:
            return []
        wanted = [p for prefix in prefixes for p in (prefix, "intent:" + prefix)]
        clauses = " OR ".join("substr(key, 1, ?) = ?" for _ in wanted)
        params = [v for p in wanted for v in (len(p), p)]
        async with self.db.transaction() as tx:
            return await tx.fetchall(
                f"SELECT key, value, created_at FROM effects WHERE {clauses} ORDER BY created_at, key", params
            )

    async def history(self, target: str, limit: int = 50) -> list[dict[str, Any]]:
        """What people did to `target` ("job/12"), oldest first, from the administration log."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT * FROM admin_log WHERE target = ? ORDER BY id LIMIT ?", (target, limit)
            )
        return [{**row, "detail": json.loads(row["detail"])} for row in rows]

    async def dead_ids(self, kind: str | None = None) -> list[int]:
        """Every dead job (of `kind`), oldest first: the order a bulk replay keeps."""
        async with self.db.transaction() as tx:
            if kind is None:
                rows = await tx.fetchall("SELECT id FROM jobs WHERE state = 'dead' ORDER BY id")
            else:
                rows = await tx.fetchall(
                    "SELECT id FROM jobs WHERE state = 'dead' AND kind = ? ORDER BY id", (kind,)
                )
        return [int(r["id"]) for r in rows]

    async def health(self) -> QueueHealth:
        now = self.clock()
        async with self.db.transaction() as tx:
            dead = await tx.fetchall(
                "SELECT kind, COUNT(*) AS n FROM jobs WHERE state = 'dead' GROUP BY kind"
            )
            held = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM jobs j WHERE j.state = 'dead' AND NOT EXISTS (SELECT 1 FROM jobs p"
                f" WHERE p.ordering_key = j.ordering_key AND p.id < j.id AND p.state IN {_UNFINISHED_SQL})"
            )
            # Runnable: due (or its lease expired) with nothing older unfinished in its conversation.
            oldest = await tx.fetchone(
                "SELECT MIN(CASE WHEN j.state = 'pending' THEN j.next_attempt_at ELSE j.lease_until END) AS since"
                " FROM jobs j WHERE ((j.state = 'pending' AND j.next_attempt_at <= ?)"
                " OR (j.state = 'running' AND j.lease_until < ?)) AND NOT EXISTS (SELECT 1 FROM jobs p"
                f" WHERE p.ordering_key = j.ordering_key AND p.id < j.id AND p.state IN {_UNFINISHED_SQL})",
                (now, now),
            )
        since = oldest["since"] if oldest else None
        return QueueHealth(
            {r["kind"]: int(r["n"]) for r in dead},
            int(held["n"]) if held else 0,
            float(since) if since is not None else None,
        )

    # -- changing, by hand -------------------------------------------------------------------------
    async def retry(self, job_id: int, change: Change) -> Row | None:
        """Run a dead or waiting job now, attempts kept; None when it is in neither state."""
        return await self._move(
            job_id,
            ("dead", "pending"),
            "state = 'pending', next_attempt_at = ?, updated_at = ?",
            "job.retry",
            change,
        )

    async def replay(self, job_id: int, change: Change, force: bool = False) -> Row | None:
        """Put a dead or skipped job (a done one with `force`) back to pending with the same idempotency
        key, its attempt count back to 1: `max_attempts` tries again, and still `attempts > 1` at its
        next claim, so handlers and plugins know the key may have been used and look before writing.
        None when it is in none of these states."""
        states = ("dead", "skipped", "done") if force else ("dead", "skipped")
        return await self._move(
            job_id,
            states,
            "state = 'pending', next_attempt_at = ?, updated_at = ?,"
            " attempts = CASE WHEN attempts > 1 THEN 1 ELSE attempts END",
            "job.replay",
            change,
        )

    async def skip(self, job_id: int, change: Change) -> Row | None:
        """A dead job will never run: it releases its conversation. None when it is not dead."""
        return await self._move(job_id, ("dead",), "state = 'skipped', updated_at = ?", "job.skip", change)

    async def _move(
        self, job_id: int, states: Sequence[str], assignments: str, action: str, change: Change
    ) -> Row | None:
        now = self.clock()
        params: list[Any] = [now] * assignments.count("?")
        marks = ", ".join("?" for _ in states)
        async with self.db.transaction() as tx:
            before = await tx.fetchone("SELECT state FROM jobs WHERE id = ?", (job_id,))
            row = await tx.fetchone(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND state IN ({marks}) RETURNING *",
                (*params, job_id, *states),
            )
            if row is None or before is None:
                return None
            await self._record(tx, action, f"job/{job_id}", change, row, before["state"])
            return row

    async def _record(self, tx: Tx, action: str, target: str, change: Change, row: Row, was: str) -> None:
        detail = {
            "from": was,
            "to": row["state"],
            "kind": row["kind"],
            "idempotency_key": row["idempotency_key"],
        }
        if change.reason:
            detail["reason"] = change.reason
        await self._log.write_in(tx, change.actor, action, target, change.address, detail)
