"""Every query sav-bridge makes, as methods over one `Database`.

The inbound side only writes through `inbound` (`accept_event` and `quarantine` are its simplest uses):
the units of concurrent requests share one transaction and one commit (`store.ingest`). Workers claim
jobs with a lease and a fencing token, and record what they did outside as effects so a retry skips it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sav_bridge.errors import BadJob
from sav_bridge.lease import LeaseLost
from sav_bridge.model import Audience, Conversation, SocialUser, TicketRef
from sav_bridge.store.approvals import Approvals
from sav_bridge.store.care import CareMemory
from sav_bridge.store.database import Database, Outcome, Row, Tx, storable_text
from sav_bridge.store.destinations import Destinations
from sav_bridge.store.facts import Secrets, State, Usage
from sav_bridge.store.ingest import (
    GroupCommit,
    Inbox,
    Kept,
    apply_facts,
    enqueued_any,
    insert_jobs,
    insert_link,
    notify_enqueued,
)
from sav_bridge.store.policies import AdminLog, PolicyVersions

Clock = Callable[[], float]
T = TypeVar("T")
INTENT_PREFIX = "intent:"


#: What a claim asks, each walked in the order of a partial index over unfinished jobs only (revisions 0007
#: and 0010: `jobs_leased`, `jobs_pending`, `jobs_unfinished`), which the state conditions repeat so that
#: the databases may read those indexes: a claim stops at the first job it may take, and done jobs, however
#: many, are never read. `{skip}` leaves out the kinds whose destination is parked or open.
_IN_ORDER = (
    " AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.ordering_key = j.ordering_key AND p.id < j.id"
    " AND p.state IN ('pending', 'running', 'dead'))"
)
#: A running job whose lease ran out (its holder died or stalled): taken over first.
CLAIM_EXPIRED = (
    "SELECT id FROM jobs j WHERE j.state = 'running' AND j.lease_until < ?{skip}"
    + _IN_ORDER
    + (" ORDER BY j.lease_until LIMIT 1")
)
#: The oldest due pending job whose conversation has nothing older unfinished.
CLAIM_PENDING = (
    "SELECT id FROM jobs j WHERE j.state = 'pending' AND j.next_attempt_at <= ?{skip}"
    + _IN_ORDER
    + (" ORDER BY j.next_attempt_at, j.id LIMIT 1")
)


@dataclass(frozen=True)
class NewJob:
    """A job to enqueue; the idempotency key makes enqueueing it twice a no-op."""

    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    ordering_key: str
    not_before: float | None = None


@dataclass(frozen=True)
class Intent:
    """A post or DM about to be sent: enough to recognise it on X without keeping its text.

    `match_sha256` is the digest of the text in the form X gives it back (see
    `sav_bridge.channels.x.readback`); `first_at` is the first send attempt, `at` the start of the
    latest, or its end once its answer was lost (a read-back counts from it); `misses` counts the
    read-backs that found nothing since, `duplicate` says X refused the latest send as a duplicate;
    `carried` is what the write carries besides its text (its image's fate), kept for the note."""

    key: str
    target: str
    text_sha256: str
    match_sha256: str
    first_at: float
    at: float
    misses: int = 0
    duplicate: bool = False
    carried: dict[str, Any] | None = None


@dataclass(frozen=True)
class Job:
    """A claimed job; `lease_token` fences its completion against a later claimer."""

    id: int
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    ordering_key: str
    attempts: int
    lease_token: int
    #: What the previous attempt died of, if any.
    last_error: str | None = None
    created_at: float = 0.0

    def read(self, reader: Callable[[dict[str, Any]], T]) -> T:
        """`reader(payload)`, with a payload that does not fit it reported as `BadJob`."""
        try:
            return reader(self.payload)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadJob(
                f"{self.kind} job {self.id} has an unreadable payload: {type(exc).__name__}: {exc}"
            ) from exc


def _job(row: Row) -> Job:
    return Job(
        id=int(row["id"]),
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        idempotency_key=row["idempotency_key"],
        ordering_key=row["ordering_key"],
        attempts=int(row["attempts"]),
        lease_token=int(row["lease_token"]),
        last_error=row["last_error"],
        created_at=float(row["created_at"]),
    )


def _conversation(row: Row) -> Conversation:
    ticket = TicketRef(row["helpdesk"], row["ticket_id"]) if row["ticket_id"] else None
    return Conversation(
        thread_key=row["thread_key"],
        channel=row["channel"],
        audience=Audience(row["audience"]),
        customer=SocialUser(row["customer_id"], row["customer_screen_name"], row["customer_name"]),
        ticket=ticket,
        last_customer_message_id=row["last_customer_message_id"],
        last_summoning_message_id=row["last_summoning_message_id"],
    )


def _storable(body: bytes) -> str:
    """A raw body as text any database keeps: invalid UTF-8 replaced, NUL written as its JSON escape."""
    return body.decode("utf-8", "replace").replace("\x00", "\\u0000")


class Store:
    """The gateway's durable state."""

    def __init__(self, db: Database, clock: Clock = time.time) -> None:
        self.db = db
        self.clock = clock
        self.state = State(db, clock)
        self.secrets = Secrets(db, clock)
        self.usage = Usage(db, clock)
        self.policies = PolicyVersions(db, clock)
        self.admin_log = AdminLog(db, clock)
        self.approvals = Approvals(db, clock, self._enqueue)
        self.destinations = Destinations(db, clock)
        self.care = CareMemory(db, clock)
        #: PostgreSQL: a commit that enqueues jobs wakes the workers of every replica (`JOBS_ENQUEUED`).
        self.notifies = db.dialect == "postgresql"
        self.group_commit = GroupCommit(db.write_batch, self._finish_batch)

    async def close(self) -> None:
        await self.group_commit.close()
        await self.db.close()

    async def ping(self) -> None:
        async with self.db.transaction() as tx:
            await tx.fetchone("SELECT 1 AS ok")

    # -- inbound -------------------------------------------------------------------------------
    async def inbound(self, work: Callable[[Inbox], Awaitable[T]]) -> T:
        """Run an inbound request's queries in the next group commit; its value once durable.

        `work` runs on the event loop inside the batch's transaction: it makes queries and nothing
        else (no call out, no sleep: the batch holds the write lock meanwhile). Its error is raised
        here and undoes its writes only; `Unavailable` if the batch could not be committed."""
        now = self.clock()

        async def unit(tx: Tx) -> Kept:
            inbox = Inbox(tx, now)
            return Kept(await work(inbox), now, inbox.facts, inbox.enqueued)

        kept: Kept = await self.group_commit.run(unit)
        return kept.value  # type: ignore[no-any-return]

    async def accept_event(
        self,
        source: str,
        event_id: str,
        kind: str,
        payload: Any,
        jobs: Iterable[NewJob],
        link: tuple[str, str, str] | None = None,
    ) -> bool:
        """Store an event, the jobs it causes and its (channel, id, thread) link, atomically.

        False if this event was seen before: nothing is written then.
        """
        jobs = list(jobs)
        return await self.inbound(lambda inbox: inbox.accept(source, event_id, kind, payload, jobs, link))

    async def quarantine(self, source: str, body: bytes, reason: str) -> bool:
        """Keep an authentic but unusable body for a person to look at. False if already kept."""
        digest, text = hashlib.sha256(body).hexdigest(), _storable(body)
        return await self.inbound(lambda inbox: inbox.quarantine(source, digest, text, reason))

    async def count(self, table: str) -> int:
        if table not in {
            "events",
            "quarantine",
            "jobs",
            "effects",
            "conversations",
            "message_links",
            "audit",
        }:
            raise ValueError(table)
        async with self.db.transaction() as tx:
            row = await tx.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
            return int(row["n"]) if row else 0

    async def event_activity(self, source: str, window: float) -> tuple[float | None, int]:
        """When the last event of `source` arrived (None: never), and how many arrived in the `window`
        seconds up to it: what the quiet-channel alert weighs."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT MAX(received_at) AS at FROM events WHERE source = ?", (source,))
            if row is None or row["at"] is None:
                return None, 0
            last = float(row["at"])
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n FROM events WHERE source = ? AND received_at >= ?",
                (source, last - window),
            )
            return last, int(row["n"]) if row else 0

    # -- outbox --------------------------------------------------------------------------------
    async def enqueue(self, jobs: Iterable[NewJob]) -> int:
        async with self.db.transaction() as tx:
            return await self._enqueue(tx, jobs, self.clock())

    async def _enqueue(self, tx: Tx, jobs: Iterable[NewJob], now: float) -> int:
        added = await insert_jobs(tx, jobs, now)
        if added and self.notifies:
            await notify_enqueued(tx)
        return added

    async def _finish_batch(self, tx: Tx, outcomes: list[Outcome]) -> None:
        """The last step of every inbound batch: the facts its requests changed, and one wake-up notice
        for all the jobs they enqueued."""
        await apply_facts(tx, outcomes)
        if self.notifies and enqueued_any(outcomes):
            await notify_enqueued(tx)

    async def claim(self, lease_seconds: float, skip_kinds: Iterable[str] = ()) -> Job | None:
        """Take the oldest runnable job whose conversation has nothing older still open: pending, running
        or dead (a dead job holds its conversation's later jobs until a person replays or skips it).
        Jobs of `skip_kinds` (their destination is parked or its breaker open) are left where they are."""
        now = self.clock()
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        async with self.db.transaction() as tx:
            skipped = sorted(set(skip_kinds))  # the kinds of destinations parked or open now
            skip = f" AND j.kind NOT IN ({', '.join('?' * len(skipped))})" if skipped else ""
            row = None
            for query in (CLAIM_EXPIRED, CLAIM_PENDING):
                row = await tx.fetchone(query.format(skip=skip) + lock, (now, *skipped))
                if row is not None:
                    break
            if row is None:
                return None
            claimed = await tx.fetchone(
                "UPDATE jobs SET state = 'running', lease_until = ?, lease_token = lease_token + 1,"
                " attempts = attempts + 1, updated_at = ? WHERE id = ? RETURNING *",
                (now + lease_seconds, now, row["id"]),
            )
            return _job(claimed) if claimed else None

    async def finish(
        self, job: Job, follow_ups: Iterable[NewJob] = (), payload: dict[str, Any] | None = None
    ) -> bool:
        """Mark a job done (and enqueue what it causes), replacing its payload when one is given (to
        keep nothing sensitive once it is no longer needed). False if our lease was lost meanwhile."""
        now = self.clock()
        replaced = None if payload is None else json.dumps(payload, ensure_ascii=False)
        async with self.db.transaction() as tx:
            done = await tx.execute(
                "UPDATE jobs SET state = 'done', lease_until = NULL, last_error = NULL, updated_at = ?,"
                " payload = COALESCE(?, payload) WHERE id = ? AND lease_token = ? AND state = 'running'",
                (now, replaced, job.id, job.lease_token),
            )
            if done:
                await self._enqueue(tx, follow_ups, now)
            return bool(done)

    async def reschedule(self, job: Job, at: float, error: str, counted: bool = True) -> bool:
        """Put a claimed job back to run at `at`; `counted=False` gives back the attempt its claim took
        (a paused destination: waiting is not failing)."""
        refund = 0 if counted else 1
        async with self.db.transaction() as tx:
            return bool(
                await tx.execute(
                    "UPDATE jobs SET state = 'pending', next_attempt_at = ?, lease_until = NULL, last_error = ?,"
                    " attempts = attempts - ?, updated_at = ? WHERE id = ? AND lease_token = ? AND state = 'running'",
                    (at, storable_text(error[:2000]), refund, self.clock(), job.id, job.lease_token),
                )
            )

    async def bury(self, job: Job, error: str) -> bool:
        """Move a job to the dead letters; `replay` brings it back."""
        async with self.db.transaction() as tx:
            return bool(
                await tx.execute(
                    "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = ?, updated_at = ?"
                    " WHERE id = ? AND lease_token = ? AND state = 'running'",
                    (storable_text(error[:2000]), self.clock(), job.id, job.lease_token),
                )
            )

    async def release(self, jobs: Iterable[Job]) -> int:
        """Give back the leases of jobs this process holds but will not finish (it is shutting down): their
        lease ends now, so another replica takes them at once instead of when it would have run out. The
        attempt stays counted (the job may have acted outside: its next holder retries with care)."""
        now = self.clock()
        released = 0
        async with self.db.transaction() as tx:
            for job in jobs:
                released += await tx.execute(
                    "UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND lease_token = ?"
                    " AND state = 'running'",
                    (now, now, job.id, job.lease_token),
                )
        return released

    async def renew(self, job: Job, lease_seconds: float) -> bool:
        """Extend a running job's lease under its fencing token (the heartbeat); False once another
        holder has it."""
        now = self.clock()
        async with self.db.transaction() as tx:
            return bool(
                await tx.execute(
                    "UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND lease_token = ?"
                    " AND state = 'running'",
                    (now + lease_seconds, now, job.id, job.lease_token),
                )
            )

    async def jobs_by_state(self) -> dict[str, int]:
        async with self.db.transaction() as tx:
            rows = await tx.fetchall("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            return {r["state"]: int(r["n"]) for r in rows}

    async def job_rows(self, state: str | None = None) -> list[Row]:
        async with self.db.transaction() as tx:
            if state is None:
                return await tx.fetchall("SELECT * FROM jobs ORDER BY id")
            return await tx.fetchall("SELECT * FROM jobs WHERE state = ? ORDER BY id", (state,))

    # -- effects -------------------------------------------------------------------------------
    async def effect(self, key: str) -> Any | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT value FROM effects WHERE key = ?", (key,))
            return json.loads(row["value"]) if row else None

    async def record_effect(self, key: str, value: Any) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO effects (key, value, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, json.dumps(value), self.clock()),
            )

    async def claim_effect(self, key: str, value: Any) -> Any:
        """Record `value` under `key` unless something is there already; return what is there."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO effects (key, value, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, json.dumps(value), self.clock()),
            )
            row = await tx.fetchone("SELECT value FROM effects WHERE key = ?", (key,))
            return json.loads(row["value"]) if row else None

    # -- intents: a write about to go out, kept until its result is recorded -------------------
    async def record_intent(
        self,
        key: str,
        target: str,
        text_sha256: str,
        match_sha256: str,
        carried: dict[str, Any] | None = None,
        fence: tuple[int, int] | None = None,
    ) -> Intent:
        """Note durably, before sending, what the write of `key` will look like once done.

        Called before every send: `first_at` stays the first attempt's time, so a read-back covers
        every attempt; `at` moves to this one. `fence` (job id, lease token) records it only while that
        job is still ours, in the same transaction: a holder that lost its lease raises `LeaseLost` and
        sends nothing, and the new holder finds the intent and reconciles."""
        now = self.clock()
        async with self.db.transaction() as tx:
            if fence is not None:
                lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
                held = await tx.fetchone(
                    "SELECT id FROM jobs WHERE id = ? AND lease_token = ? AND state = 'running'" + lock, fence
                )
                if held is None:
                    raise LeaseLost(fence[0])
            row = await tx.fetchone("SELECT value FROM effects WHERE key = ?", (INTENT_PREFIX + key,))
            first_at = float(json.loads(row["value"])["first_at"]) if row else now
            intent = Intent(key, target, text_sha256, match_sha256, first_at, now, carried=carried)
            await self._put_intent(tx, intent)
            return intent

    async def intent(self, key: str) -> Intent | None:
        """The write of `key` that was about to go out and has no recorded result yet."""
        async with self.db.transaction() as tx:
            return await self._intent(tx, key)

    async def mark_intent(self, key: str, misses: int = 0, duplicate: bool = False) -> None:
        """The latest attempt of `key` ended without a known result: its time moves to now, so the
        next read-back waits from the moment the answer was lost, not from when the send began."""
        async with self.db.transaction() as tx:
            intent = await self._intent(tx, key)
            if intent is not None:
                ended = replace(intent, at=self.clock(), misses=misses, duplicate=duplicate)
                await self._put_intent(tx, ended)

    async def _intent(self, tx: Tx, key: str) -> Intent | None:
        row = await tx.fetchone("SELECT value FROM effects WHERE key = ?", (INTENT_PREFIX + key,))
        if row is None:
            return None
        data = json.loads(row["value"])
        return Intent(
            key,
            data["target"],
            data["text_sha256"],
            data["match_sha256"],
            data["first_at"],
            data["at"],
            int(data.get("misses", 0)),
            bool(data.get("duplicate", False)),
            data.get("carried"),
        )

    async def _put_intent(self, tx: Tx, intent: Intent) -> None:
        value = {
            "target": intent.target,
            "text_sha256": intent.text_sha256,
            "match_sha256": intent.match_sha256,
            "first_at": intent.first_at,
            "at": intent.at,
            "misses": intent.misses,
            "duplicate": intent.duplicate,
            "carried": intent.carried,
        }
        await tx.execute(
            "INSERT INTO effects (key, value, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (INTENT_PREFIX + intent.key, json.dumps(value), self.clock()),
        )

    async def unconfirmed(self, key_prefix: str) -> list[str]:
        """Keys starting with `key_prefix` whose write was sent (or about to be) without a known result."""
        prefix = INTENT_PREFIX + key_prefix
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT key FROM effects WHERE substr(key, 1, ?) = ? ORDER BY key", (len(prefix), prefix)
            )
        return [r["key"][len(INTENT_PREFIX) :] for r in rows]

    async def drop_intent(self, key: str) -> None:
        """Forget an intent whose write certainly did not happen (refused, never sent)."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM effects WHERE key = ?", (INTENT_PREFIX + key,))

    async def complete_intent(self, key: str, value: Any) -> Any:
        """Record the result of the write of `key` and drop its intent, atomically; return the result
        kept (an earlier one wins)."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO effects (key, value, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, json.dumps(value), self.clock()),
            )
            await tx.execute("DELETE FROM effects WHERE key = ?", (INTENT_PREFIX + key,))
            row = await tx.fetchone("SELECT value FROM effects WHERE key = ?", (key,))
            return json.loads(row["value"]) if row else value

    # -- conversations and message links -------------------------------------------------------
    async def conversation(self, thread_key: str) -> Conversation | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT * FROM conversations WHERE thread_key = ?", (thread_key,))
            return _conversation(row) if row else None

    async def conversation_for_ticket(self, ticket: TicketRef) -> Conversation | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT * FROM conversations WHERE helpdesk = ? AND ticket_id = ? ORDER BY updated_at DESC LIMIT 1",
                (ticket.helpdesk, ticket.id),
            )
            return _conversation(row) if row else None

    async def save_conversation(self, conv: Conversation) -> None:
        now = self.clock()
        ticket = conv.ticket
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO conversations (thread_key, channel, audience, customer_id, customer_screen_name,"
                " customer_name, helpdesk, ticket_id, last_customer_message_id, last_summoning_message_id,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (thread_key) DO UPDATE SET customer_screen_name = excluded.customer_screen_name,"
                " customer_name = excluded.customer_name, helpdesk = excluded.helpdesk,"
                " ticket_id = excluded.ticket_id, last_customer_message_id = excluded.last_customer_message_id,"
                " last_summoning_message_id = excluded.last_summoning_message_id, updated_at = excluded.updated_at",
                (
                    conv.thread_key,
                    conv.channel,
                    conv.audience.value,
                    conv.customer.id,
                    conv.customer.screen_name,
                    conv.customer.name,
                    ticket.helpdesk if ticket else None,
                    ticket.id if ticket else None,
                    conv.last_customer_message_id,
                    conv.last_summoning_message_id,
                    now,
                    now,
                ),
            )

    async def link_message(
        self, channel: str, social_id: str, thread_key: str, direction: str, ticket_comment: str | None = None
    ) -> None:
        async with self.db.transaction() as tx:
            await self._link(tx, channel, social_id, thread_key, direction, ticket_comment)

    async def _link(
        self,
        tx: Tx,
        channel: str,
        social_id: str,
        thread_key: str,
        direction: str,
        ticket_comment: str | None,
    ) -> None:
        await insert_link(tx, channel, social_id, thread_key, direction, ticket_comment, self.clock())

    async def message_link(self, channel: str, social_id: str) -> Row | None:
        async with self.db.transaction() as tx:
            return await tx.fetchone(
                "SELECT * FROM message_links WHERE channel = ? AND social_id = ?", (channel, social_id)
            )

    # -- audit ---------------------------------------------------------------------------------
    async def audit(
        self, kind: str, subject: str, detail: dict[str, Any], policy_version: str | None = None
    ) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO audit (at, kind, subject, policy_version, detail) VALUES (?, ?, ?, ?, ?)",
                (self.clock(), kind, subject, policy_version, json.dumps(detail, ensure_ascii=False)),
            )

    async def audit_page(
        self,
        kind: str,
        since: float | None,
        until: float | None,
        version: str | None,
        before: int | None,
        scan: int,
    ) -> list[Row]:
        """Up to `scan` audit rows of `kind`, newest first, within the bounds given (None: unbounded)."""
        clauses: list[str] = ["kind = ?"]
        params: list[Any] = [kind]
        for clause, value in (
            ("at >= ?", since),
            ("at < ?", until),
            ("policy_version = ?", version),
            ("id < ?", before),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        async with self.db.transaction() as tx:
            return await tx.fetchall(
                f"SELECT * FROM audit WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?", (*params, scan)
            )

    async def audit_rows(self, kind: str | None = None) -> list[Row]:
        async with self.db.transaction() as tx:
            if kind is None:
                return await tx.fetchall("SELECT * FROM audit ORDER BY id")
            return await tx.fetchall("SELECT * FROM audit WHERE kind = ? ORDER BY id", (kind,))
