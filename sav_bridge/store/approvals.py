"""Replies held by a `hold` rule until a second person approves or rejects them (the approval queue).

A held reply is kept once per agent comment (a repeated publish job finds it there). Deciding is one
transaction that changes a pending row and enqueues what follows (the approved reply's publish job,
or the note that says it was rejected), so two approvers clicking at once post it once, and a decision
is never lost between the two. Once decided, the reply's text is replaced by its SHA-256: the queue
keeps no text it no longer needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sav_bridge.store.database import Database, Row, Tx, storable_text

Clock = Callable[[], float]
Enqueue = Callable[[Tx, Iterable[Any], float], Awaitable[int]]
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


def approval_json(row: Row, overdue_after: float | None = None, now: float = 0.0) -> dict[str, Any]:
    """What the API shows of a held reply (its text while it is pending, its hash afterwards)."""
    payload = json.loads(row["payload"])
    data = {
        "id": row["id"], "ticket": f"{row['helpdesk']}:{row['ticket_id']}", "comment": row["comment_id"],
        "agent": json.loads(row["agent"]), "audience": row["audience"], "rules": json.loads(row["rules"]),
        "policy_version": row["policy_version"], "status": row["status"], "created_at": row["created_at"],
        "decided_at": row["decided_at"], "decided_by": row["decided_by"], "comment_by_decider": row["comment"],
        "text": payload.get("body"), "text_sha256": payload.get("body_sha256"),
    }  # fmt: skip
    if overdue_after is not None:
        data["overdue"] = row["status"] == PENDING and now - float(row["created_at"]) > overdue_after
    return data


class Approvals:
    def __init__(self, db: Database, clock: Clock, enqueue: Enqueue) -> None:
        self.db = db
        self.clock = clock
        self._enqueue = enqueue

    async def hold(
        self,
        payload: dict[str, Any],
        agent: dict[str, Any],
        audience: str,
        rules: list[str],
        policy_version: str,
    ) -> int:
        """Keep a held reply (`payload`: the publish job's); its id, the first hold's when repeated."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO approvals (helpdesk, ticket_id, comment_id, agent, audience, rules, policy_version,"
                " payload, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (helpdesk, comment_id) DO NOTHING",
                (payload["helpdesk"], payload["ticket_id"], payload["comment_id"], json.dumps(agent), audience,
                 json.dumps(rules), policy_version, json.dumps(payload, ensure_ascii=False), PENDING, self.clock()),
            )  # fmt: skip
            row = await tx.fetchone(
                "SELECT id FROM approvals WHERE helpdesk = ? AND comment_id = ?",
                (payload["helpdesk"], payload["comment_id"]),
            )
        assert row is not None
        return int(row["id"])

    async def get(self, approval_id: int) -> Row | None:
        async with self.db.transaction() as tx:
            return await tx.fetchone("SELECT * FROM approvals WHERE id = ?", (approval_id,))

    async def list(self, status: str | None, limit: int = 200) -> list[Row]:
        async with self.db.transaction() as tx:
            if status is None:
                return await tx.fetchall("SELECT * FROM approvals ORDER BY id DESC LIMIT ?", (limit,))
            return await tx.fetchall(
                "SELECT * FROM approvals WHERE status = ? ORDER BY id DESC LIMIT ?", (status, limit)
            )

    async def pending_since(self, before: float) -> int:
        """How many held replies wait since before `before` (the overdue ones)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM approvals WHERE status = ? AND created_at < ?", (PENDING, before)
            )
        return int(row["n"]) if row else 0

    async def decide(
        self, approval_id: int, status: str, who: str, comment: str, follow: Callable[[Row], Iterable[Any]]
    ) -> Row | None:
        """Approve or reject a pending reply and enqueue `follow(row)` with it; None when it was not pending."""
        now = self.clock()
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT * FROM approvals WHERE id = ? AND status = ?", (approval_id, PENDING)
            )
            if row is None:
                return None
            payload = json.loads(row["payload"])
            body = str(payload.pop("body", ""))
            payload["body_sha256"] = hashlib.sha256(body.encode()).hexdigest()
            changed = await tx.execute(
                "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, comment = ?, payload = ?"
                " WHERE id = ? AND status = ?",
                (
                    status,
                    now,
                    storable_text(who),
                    storable_text(comment),
                    json.dumps(payload),
                    approval_id,
                    PENDING,
                ),
            )
            if not changed:
                return None
            await self._enqueue(tx, follow({**row, "body": body}), now)
            return await tx.fetchone("SELECT * FROM approvals WHERE id = ?", (approval_id,))
