"""What social care remembers (`sav_bridge.care`): each customer message as care saw it, and each
conversation's response times.

Every decision care makes about a message is computed from the messages *before* it, which a retry of the
same job cannot change: recording a message twice is a no-op, and the same message gets the same answer
(same acknowledgement, same priority), so the follow-up jobs' idempotency keys do the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sav_bridge.model import PRIORITY_LEVELS
from sav_bridge.store.database import Database, Row

Clock = Callable[[], float]


@dataclass(frozen=True)
class Seen:
    """What care knows when a customer message arrives, from what came before it."""

    #: Customer messages of the conversation written before this one.
    earlier_in_thread: int
    #: When the previous customer message of the conversation was written (None: this is the first).
    previous_at: float | None
    #: This customer's messages in the conversation within the burst window, this one included.
    recent: int
    #: When the latest acknowledgement of this conversation answered a message (None: never).
    last_ack_at: float | None
    #: The highest priority care has asked for in this conversation so far.
    level: str | None
    #: The customer's other conversations through the gateway, and their first message to the brand.
    other_conversations: int
    first_contact: float | None


@dataclass(frozen=True)
class Waiting:
    """A conversation whose customer waits for an agent (the response-time watch)."""

    thread_key: str
    ticket_id: str | None
    awaiting_since: float
    answered_before: bool
    level: str | None


@dataclass(frozen=True)
class CareConversation:
    """One conversation's response times, for the report."""

    thread_key: str
    opened_at: float
    first_response_at: float | None
    public: bool
    moved_to_dm: bool


class CareMemory:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def record(
        self,
        message_key: str,
        thread_key: str,
        customer_id: str,
        at: float,
        public: bool,
        window: float,
        ticket_id: str | None = None,
    ) -> Seen:
        """Remember a customer message (once), and the ticket it is on, and say what came before it."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO care_messages (message_key, thread_key, customer_id, at, public)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_key) DO NOTHING",
                (message_key, thread_key, customer_id, at, int(public)),
            )
            await tx.execute(
                "INSERT INTO care_conversations (thread_key, customer_id, ticket_id, opened_at, awaiting_since,"
                " public) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread_key) DO UPDATE SET"
                " awaiting_since = COALESCE(care_conversations.awaiting_since, excluded.awaiting_since),"
                " ticket_id = COALESCE(excluded.ticket_id, care_conversations.ticket_id)",
                (thread_key, customer_id, ticket_id, at, at, int(public)),
            )
            before = "thread_key = ? AND (at < ? OR (at = ? AND message_key < ?))"
            earlier = await tx.fetchone(
                f"SELECT COUNT(*) AS n, MAX(at) AS last FROM care_messages WHERE {before}",
                (thread_key, at, at, message_key),
            )
            recent = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM care_messages WHERE thread_key = ? AND at > ? AND at <= ?",
                (thread_key, at - window, at),
            )
            acked = await tx.fetchone(
                "SELECT MAX(at) AS at FROM care_messages WHERE thread_key = ? AND acked = 1 AND message_key <> ?",
                (thread_key, message_key),
            )
            level = await tx.fetchone(
                "SELECT level FROM care_conversations WHERE thread_key = ?", (thread_key,)
            )
            others = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM care_conversations WHERE customer_id = ? AND thread_key <> ?",
                (customer_id, thread_key),
            )
            first = await tx.fetchone(  # conversations outlive their messages (retention)
                "SELECT MIN(opened_at) AS at FROM care_conversations WHERE customer_id = ?", (customer_id,)
            )
        return Seen(
            earlier_in_thread=int(_get(earlier, "n") or 0),
            previous_at=_float(_get(earlier, "last")),
            recent=int(_get(recent, "n") or 1),
            last_ack_at=_float(_get(acked, "at")),
            level=_get(level, "level"),
            other_conversations=int(_get(others, "n") or 0),
            first_contact=_float(_get(first, "at")),
        )

    async def acknowledged(self, message_key: str) -> None:
        """The acknowledgement of this message is on its way: the cooldown counts from it."""
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE care_messages SET acked = 1 WHERE message_key = ?", (message_key,))

    async def raised(self, thread_key: str, level: str) -> None:
        """Care asked for `level` on the conversation's ticket (kept only when higher than before)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT level FROM care_conversations WHERE thread_key = ?", (thread_key,)
            )
            if row is not None and rank(level) > rank(row["level"]):
                await tx.execute(
                    "UPDATE care_conversations SET level = ? WHERE thread_key = ?", (level, thread_key)
                )

    async def answered(self, thread_key: str, at: float, by_dm: bool) -> None:
        """An agent's reply reached the customer: the wait ends; a public conversation answered by DM
        counts as moved to DM."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE care_conversations SET first_response_at = COALESCE(first_response_at, ?),"
                " last_agent_at = ?, awaiting_since = NULL,"
                " moved_to_dm = CASE WHEN public = 1 AND ? = 1 THEN 1 ELSE moved_to_dm END"
                " WHERE thread_key = ?",
                (at, at, int(by_dm), thread_key),
            )

    async def waiting(self, limit: int = 500) -> list[Waiting]:
        """Conversations whose customer waits and whose wait the watch has not raised yet, oldest first."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT thread_key, ticket_id, awaiting_since, first_response_at, level FROM care_conversations"
                " WHERE awaiting_since IS NOT NULL AND (warned_for IS NULL OR warned_for <> awaiting_since)"
                " ORDER BY awaiting_since LIMIT ?",
                (limit,),
            )
        return [
            Waiting(
                r["thread_key"],
                r["ticket_id"],
                float(r["awaiting_since"]),
                r["first_response_at"] is not None,
                r["level"],
            )
            for r in rows
        ]

    async def warned(self, thread_key: str, awaiting_since: float) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE care_conversations SET warned_for = ? WHERE thread_key = ? AND awaiting_since = ?",
                (awaiting_since, thread_key, awaiting_since),
            )

    async def opened_between(self, since: float, until: float) -> list[CareConversation]:
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT thread_key, opened_at, first_response_at, public, moved_to_dm FROM care_conversations"
                " WHERE opened_at >= ? AND opened_at < ? ORDER BY opened_at",
                (since, until),
            )
        return [
            CareConversation(
                r["thread_key"],
                float(r["opened_at"]),
                _float(r["first_response_at"]),
                bool(r["public"]),
                bool(r["moved_to_dm"]),
            )
            for r in rows
        ]

    async def waiting_count(self) -> int:
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM care_conversations WHERE awaiting_since IS NOT NULL"
            )
        return int(_get(row, "n") or 0)


def rank(level: str | None) -> int:
    """A priority's place among `PRIORITY_LEVELS` (-1 for none)."""
    return PRIORITY_LEVELS.index(level) if level in PRIORITY_LEVELS else -1


def _get(row: Row | None, key: str) -> Any:
    return None if row is None else row.get(key)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
