"""Retention: the store keeps what it still needs, and no more.

- Raw inbound bodies (an event's payload, a quarantined body) hold customers' words: blanked after
  `retention.raw_body_days`. The event row itself stays, for deduplication.
- Event ids are the deduplication keys: kept at least `retention.dedup_days` (never under 7: X and the
  helpdesks redeliver within hours, a replay of an old export may come later) and as long as their body,
  then deleted.
- Done and skipped jobs leave the job table after `retention.done_job_days` for `jobs_archive` (kind, keys,
  attempts, times; never the payload). The idempotency key stays unique there, and enqueueing checks it,
  so a job done long ago is still never enqueued again. The archive is purged after `archive_days`.
- Care's memory of each customer message (`care_messages`: when, acknowledged or not) lives as long as the
  event ids; each conversation's response times (`care_conversations`, what `care report` reads) stay.
- Effects and intents (what was posted, with its remote id) are kept: they are what makes a replay
  reconcile instead of posting twice.

Each step deletes at most `BATCH` rows in one short transaction and repeats until nothing is left, so a
purge never holds the writers for long; every replica may run it (the statements are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sav_bridge.config import RetentionSettings
from sav_bridge.store import Store

log = logging.getLogger(__name__)

DAY = 86_400.0
BATCH = 2_000
#: Event ids are never forgotten sooner, whatever the configuration says.
MIN_DEDUP_DAYS = 7.0
FINISHED = "('done', 'skipped')"


@dataclass
class Purged:
    """How many rows each step changed."""

    bodies: int = 0
    events: int = 0
    quarantined: int = 0
    jobs_archived: int = 0
    archive: int = 0
    care_messages: int = 0

    def total(self) -> int:
        return (
            self.bodies
            + self.events
            + self.quarantined
            + self.jobs_archived
            + self.archive
            + self.care_messages
        )


async def purge(store: Store, settings: RetentionSettings) -> Purged:
    """One full pass; returns what it did."""
    now = store.clock()
    bodies_before = now - settings.raw_body_days * DAY
    # An event row lives as long as its body or its id is kept, whichever is longer.
    dedup_before = now - max(MIN_DEDUP_DAYS, settings.dedup_days, settings.raw_body_days) * DAY
    done_before = now - settings.done_job_days * DAY
    archive_before = now - settings.archive_days * DAY
    purged = Purged()
    purged.bodies = await _repeat(
        store,
        "UPDATE events SET payload = '{}' WHERE id IN (SELECT id FROM events WHERE received_at < ?"
        " AND payload != '{}' LIMIT ?)",
        bodies_before,
    )
    purged.quarantined = await _repeat(
        store,
        "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine WHERE received_at < ? LIMIT ?)",
        bodies_before,
    )
    purged.events = await _repeat(
        store,
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received_at < ? LIMIT ?)",
        dedup_before,
    )
    purged.care_messages = await _repeat(
        store,
        "DELETE FROM care_messages WHERE message_key IN (SELECT message_key FROM care_messages WHERE at < ?"
        " LIMIT ?)",
        dedup_before,
    )
    purged.jobs_archived = await _archive_jobs(store, done_before)
    purged.archive = await _repeat(
        store,
        "DELETE FROM jobs_archive WHERE id IN (SELECT id FROM jobs_archive WHERE finished_at < ? LIMIT ?)",
        archive_before,
    )
    if purged.total():
        log.info("retention: %s", purged)
    return purged


async def _repeat(store: Store, sql: str, before: float) -> int:
    changed = 0
    while True:
        async with store.db.transaction() as tx:
            count = await tx.execute(sql, (before, BATCH))
        changed += count
        if count < BATCH:
            return changed


async def _archive_jobs(store: Store, before: float) -> int:
    """Move finished jobs to the archive, a batch per transaction: copied, then deleted, together."""
    moved = 0
    while True:
        async with store.db.transaction() as tx:
            rows = await tx.fetchall(
                f"SELECT id FROM jobs WHERE state IN {FINISHED} AND updated_at < ? ORDER BY id LIMIT ?",
                (before, BATCH),
            )
            ids = [int(r["id"]) for r in rows]
            if ids:
                marks = ", ".join("?" * len(ids))
                await tx.execute(
                    "INSERT INTO jobs_archive (id, kind, idempotency_key, ordering_key, state, attempts,"
                    " created_at, finished_at) SELECT id, kind, idempotency_key, ordering_key, state, attempts,"
                    f" created_at, updated_at FROM jobs WHERE id IN ({marks}) ON CONFLICT DO NOTHING",
                    ids,
                )
                await tx.execute(f"DELETE FROM jobs WHERE id IN ({marks})", ids)
        moved += len(ids)
        if len(ids) < BATCH:
            return moved


async def run(store: Store, settings: RetentionSettings, stop: asyncio.Event) -> None:
    """Purge every `every_minutes` until `stop`; a failed pass is logged and tried again next time."""
    while not stop.is_set():
        try:
            await purge(store, settings)
        except Exception:
            log.exception("retention pass failed (store unreachable?); trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.every_minutes * 60)
