"""The job table's guarantees, on SQLite and PostgreSQL: dedupe, order per conversation, leases, fencing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sav_bridge.store import NewJob, Store, open_store
from sav_bridge.store.job_admin import Change, JobAdmin
from tests.harness import Clock


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[tuple[Store, Clock]]:
    clock = Clock()
    opened = await open_store(database_url, clock)
    yield opened, clock
    await opened.close()


def job(key: str, order: str = "conv-1") -> NewJob:
    return NewJob("test", {"key": key}, key, order)


async def test_same_event_twice_is_stored_once_with_its_jobs(store: tuple[Store, Clock]) -> None:
    s, _ = store
    assert await s.accept_event("x", "e1", "mention", {"a": 1}, [job("j1")], link=("x", "100", "t1"))
    assert not await s.accept_event("x", "e1", "mention", {"a": 1}, [job("j1-again")])
    assert (await s.count("events"), await s.count("jobs")) == (1, 1)
    assert (await s.message_link("x", "100") or {})["thread_key"] == "t1"


async def test_an_event_writes_its_jobs_and_link_only_when_new_and_never_a_job_already_known(
    store: tuple[Store, Clock],
) -> None:
    """What an inbound event writes (on PostgreSQL in one statement): every job of a new event, none
    whose key is already queued, the first link of a message only, and nothing for an event seen."""
    s, _ = store
    queued = job("shared")
    assert await s.accept_event("x", "e1", "mention", {"a": 1}, [queued], link=("x", "100", "t1"))
    assert await s.accept_event("x", "e2", "mention", {"a": 2}, [job("two-a"), queued, job("two-b")])
    assert await s.accept_event("x", "e3", "reply", {"a": 3}, [], link=("x", "100", "t-other"))
    assert not await s.accept_event("x", "e2", "mention", {"a": 2}, [job("two-c")], link=("x", "200", "t2"))
    async with s.db.transaction() as tx:
        keys = [
            row["idempotency_key"]
            for row in await tx.fetchall("SELECT idempotency_key FROM jobs ORDER BY id")
        ]
        links = await tx.fetchall("SELECT social_id, thread_key FROM message_links ORDER BY social_id")
        payloads = await tx.fetchall("SELECT event_id, payload FROM events ORDER BY event_id")
    assert keys == ["shared", "two-a", "two-b"]
    assert [(r["social_id"], r["thread_key"]) for r in links] == [("100", "t1")]
    assert [(r["event_id"], r["payload"]) for r in payloads] == [
        ("e1", '{"a": 1}'),
        ("e2", '{"a": 2}'),
        ("e3", '{"a": 3}'),
    ]


async def test_migrations_are_idempotent(database_url: str) -> None:
    first = await open_store(database_url)
    await first.close()
    second = await open_store(database_url)
    assert await second.count("jobs") == 0
    await second.close()


async def test_jobs_of_one_conversation_run_in_order_others_in_parallel(store: tuple[Store, Clock]) -> None:
    s, _ = store
    await s.enqueue([job("a1", "A"), job("a2", "A"), job("b1", "B")])
    first = await s.claim(60)
    second = await s.claim(60)
    assert first and second and (first.idempotency_key, second.idempotency_key) == ("a1", "b1")
    assert await s.claim(60) is None  # a2 waits for a1
    assert await s.finish(first)
    third = await s.claim(60)
    assert third and third.idempotency_key == "a2"


async def test_expired_lease_is_reclaimed_and_old_holder_is_fenced_off(store: tuple[Store, Clock]) -> None:
    s, clock = store
    await s.enqueue([job("j")])
    stale = await s.claim(30)
    assert stale and await s.claim(30) is None
    clock.advance(31)
    fresh = await s.claim(30)
    assert fresh and fresh.id == stale.id and fresh.lease_token > stale.lease_token
    assert not await s.finish(stale)
    assert not await s.reschedule(stale, clock.now, "late")
    assert await s.finish(fresh)
    assert await s.jobs_by_state() == {"done": 1}


async def test_rescheduled_job_waits_then_dead_job_can_be_replayed(store: tuple[Store, Clock]) -> None:
    s, clock = store
    await s.enqueue([job("j")])
    claimed = await s.claim(30)
    assert claimed and await s.reschedule(claimed, clock.now + 100, "busy")
    assert await s.claim(30) is None
    clock.advance(100)
    again = await s.claim(30)
    assert again and again.attempts == 2
    assert await s.bury(again, "gave up")
    assert await s.claim(30) is None
    [dead] = await s.job_rows("dead")
    assert dead["last_error"] == "gave up"
    change = Change("ops@mabanque.fr", "127.0.0.1")
    assert await JobAdmin(s.db, s.clock).replay(int(dead["id"]), change)  # what `sav-bridge jobs replay` does
    replayed = await s.claim(30)
    assert replayed is not None and replayed.idempotency_key == again.idempotency_key
    assert replayed.attempts == 2  # still > 1: the handler knows the key may have been used


async def test_finish_enqueues_follow_ups_atomically(store: tuple[Store, Clock]) -> None:
    s, _ = store
    await s.enqueue([job("parent")])
    parent = await s.claim(30)
    assert parent and await s.finish(parent, [job("child"), job("child")])
    assert (await s.jobs_by_state()) == {"done": 1, "pending": 1}


async def test_effects_and_claims(store: tuple[Store, Clock]) -> None:
    s, _ = store
    assert await s.effect("post:1") is None
    await s.record_effect("post:1", "999")
    await s.record_effect("post:1", "000")
    assert await s.effect("post:1") == "999"
    assert await s.claim_effect("initials:AJ", "agent-1") == "agent-1"
    assert await s.claim_effect("initials:AJ", "agent-2") == "agent-1"
