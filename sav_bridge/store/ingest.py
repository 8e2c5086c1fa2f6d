"""Group commit: concurrent inbound requests share one transaction and one commit.

A webhook is answered 2xx only once what it brought is durable, and on SQLite with `synchronous=FULL`
that is one fsync per commit. Committing each request on its own makes every request wait for its own
fsync, one after the other; here each request hands its queries over as a *unit* (an async function
over a `Tx`), and one task runs the units that arrived within a short window (or as soon as
`max_batch` are waiting) in one transaction (`Database.write_batch`), each in a savepoint:

- a unit's own failure undoes its writes only and is raised to its own caller (a duplicate event is not
  a failure: the inbox inserts with `ON CONFLICT DO NOTHING` and says whether the event was new);
- a failure of the batch (the commit, the disk, the connection) raises `Unavailable` to every request
  of the batch, and none of them was kept;
- a request is answered only after the commit that holds its rows returned.

While a batch commits the next one fills, so the batch size follows the load by itself: one request
alone waits `window` at most, a burst pays one fsync per `max_batch` requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sav_bridge.errors import Unavailable
from sav_bridge.store.database import Finish, Outcome, Tx, Unit

if TYPE_CHECKING:
    from sav_bridge.store.repository import NewJob

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteBatch = Callable[[Sequence[Unit], Finish | None], Awaitable[list[Outcome]]]
FactChange = Callable[[Any | None], Any]

#: How long the first request of a batch waits for others, and how many a batch takes at most.
WINDOW_SECONDS = 0.002
MAX_BATCH = 128
#: PostgreSQL's NOTIFY channel a commit that enqueued jobs wakes every replica's workers on (a hint only:
#: the workers poll behind it). Sent in the enqueueing transaction, so it is heard once the jobs are visible.
JOBS_ENQUEUED = "sav_bridge_jobs_enqueued"
#: A new job, unless its idempotency key is known already, in the job table or in the archive of jobs
#: done long ago (`retention`); `_job_params` gives its values.
INSERT_JOB = (
    "INSERT INTO jobs (kind, payload, idempotency_key, ordering_key, next_attempt_at, created_at, updated_at)"
    " SELECT ?, ?, ?, ?, ?, ?, ?"
)
NOT_ARCHIVED = "NOT EXISTS (SELECT 1 FROM jobs_archive WHERE idempotency_key = ?)"
JOB_KNOWN = "ON CONFLICT (idempotency_key) DO NOTHING"
NEW_JOB = f"{INSERT_JOB} WHERE {NOT_ARCHIVED} {JOB_KNOWN}"


class GroupCommit:
    """Gathers units from concurrent callers into batches written by `write` one at a time."""

    def __init__(
        self,
        write: WriteBatch,
        finish: Finish | None = None,
        window: float = WINDOW_SECONDS,
        max_batch: int = MAX_BATCH,
    ) -> None:
        """`finish` runs last in every batch's transaction (see `Database.write_batch`)."""
        self._write = write
        self._finish = finish
        self.window = window
        self.max_batch = max_batch
        self._waiting: list[tuple[Unit, asyncio.Future[Any]]] = []
        self._first_at = 0.0
        self._full = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def run(self, unit: Callable[[Tx], Awaitable[T]]) -> T:
        """Run `unit` in the next batch; return its value once that batch is committed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        if not self._waiting:
            self._first_at = loop.time()
        self._waiting.append((unit, done))
        if len(self._waiting) >= self.max_batch:
            self._full.set()
        if self._writer is None:
            self._writer = loop.create_task(self._drain())
        # The batch goes on if this caller goes away (a client hanging up): it may hold others' units.
        return await asyncio.shield(done)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                wait = self._first_at + self.window - loop.time()
                if wait > 0 and len(self._waiting) < self.max_batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._full.wait(), wait)
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                self._first_at = loop.time()
                self._full.clear()
                if len(self._waiting) >= self.max_batch:
                    self._full.set()
                await self._commit(batch)
        finally:
            self._writer = None

    async def _commit(self, batch: list[tuple[Unit, asyncio.Future[Any]]]) -> None:
        try:
            outcomes = await self._write([unit for unit, _ in batch], self._finish)
        except Exception as exc:
            failure = (
                exc if isinstance(exc, Unavailable) else Unavailable("database", f"{type(exc).__name__}")
            )
            log.warning("a batch of %d inbound requests was not stored: %s", len(batch), failure)
            for _, done in batch:
                if not done.done():
                    done.set_exception(failure)
            return
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            if done.done():
                continue
            if outcome.error is not None:
                done.set_exception(outcome.error)
            else:
                done.set_result(outcome.value)

    async def close(self) -> None:
        """Let the batches already asked for finish."""
        while self._writer is not None:
            await asyncio.shield(self._writer)


@dataclass
class Kept:
    """What an inbound unit gave: its value, and the facts it changes once its batch has run."""

    value: Any
    at: float
    facts: list[tuple[str, FactChange]] = field(default_factory=list)
    #: How many jobs the unit enqueued: a batch with any wakes the workers of every replica.
    enqueued: int = 0


async def apply_facts(tx: Tx, outcomes: list[Outcome]) -> None:
    """The facts the units of a batch changed, each read and written once per batch: a fact every
    request touches (the last webhook seen) costs two queries a batch, not two a request."""
    changes: dict[str, list[FactChange]] = {}
    at = 0.0
    for outcome in outcomes:
        if outcome.error is None and isinstance(outcome.value, Kept):
            for name, change in outcome.value.facts:
                changes.setdefault(name, []).append(change)
                at = max(at, outcome.value.at)
    for name, chain in changes.items():
        row = await tx.fetchone("SELECT value FROM state WHERE name = ?", (name,))
        value = json.loads(row["value"]) if row else None
        for change in chain:
            value = change(value)
        await tx.execute(
            "INSERT INTO state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name)"
            " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (name, json.dumps(value), at),
        )


class Inbox:
    """The queries an inbound request makes, inside its share of a group commit."""

    def __init__(self, tx: Tx, now: float) -> None:
        self.tx = tx
        self.now = now
        self.facts: list[tuple[str, FactChange]] = []
        self.enqueued = 0

    async def accept(
        self,
        source: str,
        event_id: str,
        kind: str,
        payload: Any,
        jobs: Iterable[NewJob],
        link: tuple[str, str, str] | None = None,
    ) -> bool:
        """Store an event, the jobs it causes and its (channel, id, thread) link; False (and nothing
        written) if this event was seen before."""
        text = json.dumps(payload, ensure_ascii=False)
        if self.tx.dialect == "postgresql":
            return await self._accept_at_once(source, event_id, kind, (payload, text), list(jobs), link)
        inserted = await self.tx.execute(
            "INSERT INTO events (source, event_id, kind, payload, received_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (source, event_id) DO NOTHING",
            (source, event_id, kind, text, self.now),
        )
        if not inserted:
            return False
        self.enqueued += await insert_jobs(self.tx, jobs, self.now, (payload, text))
        if link:
            await insert_link(self.tx, *link, "in", None, self.now)
        return True

    async def _accept_at_once(
        self,
        source: str,
        event_id: str,
        kind: str,
        dumped: tuple[Any, str],
        jobs: list[NewJob],
        link: tuple[str, str, str] | None,
    ) -> bool:
        """`accept` in one statement (PostgreSQL): on the inbound batch's one connection every statement
        is a round trip the whole batch waits for, and an event, its job and its link made three."""
        params: list[Any] = [source, event_id, kind, dumped[1], self.now]
        for job in jobs:
            params += _job_params(job, self.now, dumped)
        if link:
            params += [*link, "in", None, self.now]
        row = await self.tx.fetchone(_accept_sql(len(jobs), link is not None), params)
        if not row or not row["new_event"]:
            return False
        self.enqueued += int(row["new_jobs"])
        return True

    async def quarantine(self, source: str, digest: str, body: str, reason: str) -> bool:
        return bool(
            await self.tx.execute(
                "INSERT INTO quarantine (source, digest, reason, body, received_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (digest) DO NOTHING",
                (source, digest, reason, body, self.now),
            )
        )

    async def link(self, channel: str, social_id: str, thread_key: str, direction: str) -> None:
        await insert_link(self.tx, channel, social_id, thread_key, direction, None, self.now)

    async def thread_of(self, channel: str, social_id: str) -> str | None:
        """The thread a known message (ours or theirs) belongs to."""
        row = await self.tx.fetchone(
            "SELECT thread_key FROM message_links WHERE channel = ? AND social_id = ?", (channel, social_id)
        )
        return str(row["thread_key"]) if row else None

    def update_fact(self, name: str, change: FactChange) -> None:
        """Replace the named fact (`store.state`) by `change(current)` at the end of this request's batch
        (in its transaction, in the order requests came), unless this request fails."""
        self.facts.append((name, change))


async def insert_jobs(
    tx: Tx, jobs: Iterable[NewJob], now: float, dumped: tuple[Any, str] | None = None
) -> int:
    """Enqueue `jobs` in `tx`; one whose idempotency key is known already, in the job table or in the
    archive of jobs done long ago (`retention`), is skipped. Returns how many were new. `dumped`: a
    payload already written as JSON, and its text (an event's, which its job carries too)."""
    added = 0
    for job in jobs:
        added += await tx.execute(NEW_JOB, _job_params(job, now, dumped))
    return added


def _job_params(job: NewJob, now: float, dumped: tuple[Any, str] | None) -> tuple[Any, ...]:
    """`INSERT_JOB`'s and `NOT_ARCHIVED`'s values for `job`; `dumped`: a payload already written as JSON,
    and its text (an event's, which its job carries too)."""
    same = dumped is not None and job.payload is dumped[0]
    return (
        job.kind,
        dumped[1] if same and dumped is not None else json.dumps(job.payload, ensure_ascii=False),
        job.idempotency_key,
        job.ordering_key,
        job.not_before if job.not_before is not None else now,
        now,
        now,
        job.idempotency_key,
    )


@functools.lru_cache(maxsize=16)
def _accept_sql(jobs: int, link: bool) -> str:
    """`Inbox.accept`'s inserts as one PostgreSQL statement (data-modifying CTEs, one snapshot): the jobs
    and the link are written only if the event was new, and the statement says what it wrote."""
    new_event = "EXISTS (SELECT 1 FROM event)"
    parts = [
        "WITH event AS (INSERT INTO events (source, event_id, kind, payload, received_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (source, event_id) DO NOTHING RETURNING 1)"
    ]
    parts += [
        f"job{n} AS ({INSERT_JOB} WHERE {new_event} AND {NOT_ARCHIVED} {JOB_KNOWN} RETURNING 1)"
        for n in range(jobs)
    ]
    if link:
        parts.append(
            "link AS (INSERT INTO message_links (channel, social_id, thread_key, direction, ticket_comment,"
            f" created_at) SELECT ?, ?, ?, ?, ?, ? WHERE {new_event} ON CONFLICT (channel, social_id) DO NOTHING)"
        )
    new_jobs = " + ".join(f"(SELECT count(*) FROM job{n})" for n in range(jobs)) or "0"
    return ", ".join(parts) + f" SELECT (SELECT count(*) FROM event) AS new_event, {new_jobs} AS new_jobs"


async def notify_enqueued(tx: Tx) -> None:
    """Tell every replica listening (PostgreSQL) that jobs were enqueued, once this transaction commits;
    several notices of one transaction reach a listener as one."""
    await tx.execute("SELECT pg_notify(?, '')", (JOBS_ENQUEUED,))


def enqueued_any(outcomes: list[Outcome]) -> bool:
    """Whether a batch's units (those that did not fail) enqueued any job."""
    return any(o.error is None and isinstance(o.value, Kept) and o.value.enqueued for o in outcomes)


async def insert_link(
    tx: Tx,
    channel: str,
    social_id: str,
    thread_key: str,
    direction: str,
    ticket_comment: str | None,
    now: float,
) -> None:
    """Note which thread a social message belongs to (first writer wins)."""
    await tx.execute(
        "INSERT INTO message_links (channel, social_id, thread_key, direction, ticket_comment, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, social_id) DO NOTHING",
        (channel, social_id, thread_key, direction, ticket_comment, now),
    )
