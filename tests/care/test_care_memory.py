"""What care remembers: decisions about a message come from the messages before it, so a retried job
decides the same; an agent's answer ends the wait; the report reads response times."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sav_bridge.store import Store, open_store

WINDOW = 600.0


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    yield opened
    await opened.close()


async def test_a_burst_counts_the_customers_recent_messages_in_the_conversation(store: Store) -> None:
    care = store.care
    first = await care.record("m1", "t1", "c1", 1000.0, True, WINDOW)
    assert (first.earlier_in_thread, first.previous_at, first.recent) == (0, None, 1)
    await care.record("m2", "t1", "c1", 1200.0, True, WINDOW)
    third = await care.record("m3", "t1", "c1", 1500.0, True, WINDOW)
    assert (third.earlier_in_thread, third.previous_at, third.recent) == (2, 1200.0, 3)
    later = await care.record("m4", "t1", "c1", 2500.0, True, WINDOW)
    assert later.recent == 1  # the three others are more than ten minutes old


async def test_a_retried_message_is_seen_as_the_first_time(store: Store) -> None:
    care = store.care
    await care.record("m1", "t1", "c1", 1000.0, True, WINDOW)
    once = await care.record("m2", "t1", "c1", 1100.0, True, WINDOW)
    await care.acknowledged("m2")
    again = await care.record("m2", "t1", "c1", 1100.0, True, WINDOW)
    assert again == once  # its own acknowledgement does not count against it
    after = await care.record("m3", "t1", "c1", 1300.0, True, WINDOW)
    assert after.last_ack_at == 1100.0


async def test_the_customers_other_conversations_and_first_contact(store: Store) -> None:
    care = store.care
    await care.record("a", "t-old", "c1", 100.0, True, WINDOW)
    await care.record("b", "t-other-customer", "c2", 50.0, True, WINDOW)
    seen = await care.record("c", "t-new", "c1", 9000.0, False, WINDOW)
    assert (seen.other_conversations, seen.first_contact) == (1, 100.0)


async def test_an_agents_answer_ends_the_wait_and_a_public_one_answered_by_dm_moved(store: Store) -> None:
    care = store.care
    await care.record("m1", "t1", "c1", 1000.0, True, WINDOW)
    await care.record("m2", "t2", "c2", 1000.0, True, WINDOW)
    assert {w.thread_key for w in await care.waiting()} == {"t1", "t2"}
    await care.answered("t1", 1600.0, by_dm=True)
    [left] = await care.waiting()
    assert (left.thread_key, left.answered_before) == ("t2", False)
    await care.warned("t2", left.awaiting_since)
    assert await care.waiting() == []  # raised once per wait
    await care.record("m3", "t1", "c1", 2000.0, True, WINDOW)  # the customer writes again: a new wait
    [again] = await care.waiting()
    assert (again.thread_key, again.awaiting_since, again.answered_before) == ("t1", 2000.0, True)
    report = {c.thread_key: c for c in await care.opened_between(0.0, 5000.0)}
    assert report["t1"].first_response_at == 1600.0 and report["t1"].moved_to_dm
    assert report["t2"].first_response_at is None and not report["t2"].moved_to_dm


async def test_the_priority_asked_only_goes_up(store: Store) -> None:
    care = store.care
    await care.record("m1", "t1", "c1", 1000.0, True, WINDOW)
    await care.raised("t1", "high")
    await care.raised("t1", "normal")
    seen = await care.record("m2", "t1", "c1", 1100.0, True, WINDOW)
    assert seen.level == "high"
    await care.raised("t1", "urgent")
    assert (await care.record("m3", "t1", "c1", 1200.0, True, WINDOW)).level == "urgent"
