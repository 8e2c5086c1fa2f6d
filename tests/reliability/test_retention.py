"""Retention: raw bodies go after their days, event ids stay long enough to absorb a late redelivery, done
jobs move to an archive that still refuses their idempotency key, and nothing unfinished is touched."""

from __future__ import annotations

import json

import pytest

from sav_bridge.config import RetentionSettings
from sav_bridge.retention import DAY, purge
from sav_bridge.store import NewJob, Store, open_store

pytestmark = pytest.mark.asyncio

SETTINGS = RetentionSettings(raw_body_days=30, dedup_days=14, done_job_days=7, archive_days=90)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def payloads(store: Store) -> dict[str, str]:
    async with store.db.transaction() as tx:
        rows = await tx.fetchall("SELECT event_id, payload FROM events ORDER BY id")
    return {r["event_id"]: r["payload"] for r in rows}


async def test_bodies_then_event_ids_are_purged_after_their_days(database_url: str) -> None:
    clock = Clock()
    store = await open_store(database_url, clock)
    settings = RetentionSettings(raw_body_days=10, dedup_days=30)
    try:
        body = {"text": "Mon numéro est le 06 12 34 56 78"}
        assert await store.accept_event("x", "e-1", "mention", body, [])
        await store.quarantine("x", b'{"odd": "body with a customer\'s words"}', "unparsable")

        clock.now += 9 * DAY
        await purge(store, settings)
        assert json.loads((await payloads(store))["e-1"]) == body and await store.count("quarantine") == 1

        clock.now += 2 * DAY  # 11 days: the words are gone, the id still absorbs a redelivery
        done = await purge(store, settings)
        assert (done.bodies, done.quarantined, done.events) == (1, 1, 0)
        assert await payloads(store) == {"e-1": "{}"} and await store.count("quarantine") == 0
        assert not await store.accept_event("x", "e-1", "mention", body, [])

        clock.now += 20 * DAY  # 31 days: the id is forgotten too
        assert (await purge(store, settings)).events == 1 and await store.count("events") == 0
    finally:
        await store.close()


async def test_event_ids_are_kept_at_least_seven_days_whatever_the_setting(sqlite_url: str) -> None:
    clock = Clock()
    store = await open_store(sqlite_url, clock)
    try:
        await store.accept_event("x", "e-1", "mention", {}, [])
        clock.now += 6.9 * DAY
        await purge(store, RetentionSettings(raw_body_days=1, dedup_days=1))
        assert await store.count("events") == 1
        clock.now += 0.2 * DAY
        await purge(store, RetentionSettings(raw_body_days=1, dedup_days=1))
        assert await store.count("events") == 0
    finally:
        await store.close()


async def test_done_jobs_are_archived_and_their_keys_still_refused(database_url: str) -> None:
    clock = Clock()
    store = await open_store(database_url, clock)
    try:
        await store.enqueue(NewJob("t", {"reply": "secret words"}, f"k{i}", "conv") for i in range(3))
        first = await store.claim(60)
        assert first is not None and await store.finish(first)
        second = await store.claim(60)
        assert second is not None and await store.bury(second, "gave up")

        clock.now += 8 * DAY
        assert (await purge(store, SETTINGS)).jobs_archived == 1
        remaining = {r["idempotency_key"]: r["state"] for r in await store.job_rows()}
        assert remaining == {"k1": "dead", "k2": "pending"}  # unfinished work is never purged
        async with store.db.transaction() as tx:
            [archived] = await tx.fetchall("SELECT * FROM jobs_archive")
        assert archived["idempotency_key"] == "k0" and "payload" not in archived

        assert await store.enqueue([NewJob("t", {}, "k0", "conv")]) == 0  # done long ago: still once

        clock.now += 91 * DAY
        assert (await purge(store, SETTINGS)).archive == 1
    finally:
        await store.close()


async def test_a_large_purge_goes_in_bounded_steps(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many rows are purged in several short transactions, not one long one."""
    import sav_bridge.retention as retention

    monkeypatch.setattr(retention, "BATCH", 10)
    clock = Clock()
    store = await open_store(sqlite_url, clock)
    try:
        for i in range(35):
            await store.accept_event("x", f"e-{i}", "mention", {"n": i}, [])
        clock.now += 40 * DAY
        done = await purge(store, SETTINGS)
        assert (done.bodies, done.events) == (35, 35) and await store.count("events") == 0
    finally:
        await store.close()


async def test_cares_message_memory_goes_with_the_event_ids_and_conversations_stay(database_url: str) -> None:
    clock = Clock()
    store = await open_store(database_url, clock)
    settings = RetentionSettings(raw_body_days=10, dedup_days=30)
    try:
        await store.care.record("x:1", "t1", "c1", clock.now, True, 600)
        clock.now += 29 * DAY
        assert (await purge(store, settings)).care_messages == 0
        clock.now += 2 * DAY  # 31 days: the message row is gone, the conversation (the report's) stays
        assert (await purge(store, settings)).care_messages == 1
        async with store.db.transaction() as tx:
            assert await tx.fetchone("SELECT COUNT(*) AS n FROM care_messages") == {"n": 0}
        assert [c.thread_key for c in await store.care.opened_between(0, clock.now)] == ["t1"]
        seen = await store.care.record("x:2", "t2", "c1", clock.now, True, 600)
        assert seen.first_contact == clock.now - 31 * DAY  # the first contact is still known
    finally:
        await store.close()
