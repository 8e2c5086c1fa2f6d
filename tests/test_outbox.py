"""Retry schedule, Retry-After, dead letters and the agent's note when a reply cannot go out."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sav_bridge.config import WorkerSettings
from sav_bridge.errors import PermanentError, RetryableError
from sav_bridge.metrics import Metrics
from sav_bridge.outbox import Outbox
from sav_bridge.store import Job, NewJob, open_store
from sav_bridge.store.job_admin import Change, JobAdmin
from tests.harness import Clock


async def make(sqlite_url: str, handler, max_attempts: int = 3, payload: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    clock = Clock()
    store = await open_store(sqlite_url, clock)
    dead: list[tuple[int, str]] = []

    async def on_dead(job: Job, error: str) -> None:
        dead.append((job.id, error))

    outbox = Outbox(store, {"t": handler}, WorkerSettings(max_attempts=max_attempts, max_backoff_seconds=600, retry_hours=0),
                    Metrics(), on_dead, random.Random(7))  # fmt: skip
    await store.enqueue([NewJob("t", payload or {}, "k", "o")])
    return store, outbox, clock, dead


async def test_retryable_failures_back_off_then_succeed(sqlite_url: str) -> None:
    calls = []

    async def flaky(job: Job) -> None:
        calls.append(job.attempts)
        if job.attempts < 3:
            raise RetryableError("zendesk", "HTTP 503")

    store, outbox, clock, dead = await make(sqlite_url, flaky, max_attempts=5)
    assert await outbox.drain() == 1
    [row] = await store.job_rows("pending")
    assert 1 <= row["next_attempt_at"] - clock.now <= 2
    clock.advance(2)
    await outbox.drain()
    [row] = await store.job_rows("pending")
    assert 2 <= row["next_attempt_at"] - clock.now <= 4
    clock.advance(4)
    await outbox.drain()
    assert calls == [1, 2, 3] and dead == [] and await store.jobs_by_state() == {"done": 1}
    await store.close()


async def test_vendor_retry_after_wins(sqlite_url: str) -> None:
    async def limited(job: Job) -> None:
        raise RetryableError("x", "HTTP 429", 429, retry_after=900)

    store, outbox, clock, _ = await make(sqlite_url, limited)
    await outbox.drain()
    [row] = await store.job_rows("pending")
    assert 900 <= row["next_attempt_at"] - clock.now <= 901
    await store.close()


async def test_permanent_failure_goes_to_dead_letters_at_once(sqlite_url: str) -> None:
    async def refused(job: Job) -> None:
        raise PermanentError("x", "HTTP 403 not allowed")

    store, outbox, _, dead = await make(sqlite_url, refused)
    await outbox.drain()
    assert await store.jobs_by_state() == {"dead": 1}
    assert dead == [(1, "x: HTTP 403 not allowed")]
    await store.close()


@pytest.mark.parametrize("error", [RetryableError("x", "HTTP 500"), OSError("disk hiccup")])
async def test_attempts_are_capped(sqlite_url: str, error: Exception) -> None:
    async def failing(job: Job) -> None:
        raise error

    store, outbox, clock, dead = await make(sqlite_url, failing, max_attempts=3)
    for attempt in range(5):
        if isinstance(error, OSError):
            error.args = (f"disk hiccup {attempt}",)  # a different failure each time keeps it retryable
        await outbox.drain()
        clock.advance(10_000)
    assert await store.jobs_by_state() == {"dead": 1}
    assert dead[0][1].startswith("gave up after 3 attempts")
    await store.close()


@pytest.mark.parametrize(
    "reader",
    [lambda p: p["text"], lambda p: int(p["ticket_id"]), lambda p: p["ticket_id"].upper(), lambda p: p + 1],
    ids=["missing-key", "not-a-number", "wrong-type", "not-an-object"],
)
async def test_a_job_whose_payload_cannot_be_read_is_dead_at_once(sqlite_url: str, reader: Any) -> None:
    async def reading(job: Job) -> None:
        job.read(reader)

    store, outbox, _, dead = await make(sqlite_url, reading, max_attempts=15, payload={"ticket_id": ["x"]})
    await outbox.drain()
    assert await store.jobs_by_state() == {"dead": 1}
    assert "no retry can fix it" in dead[0][1] and "unreadable payload" in dead[0][1]
    await store.close()


async def test_a_vendor_answer_of_an_unexpected_shape_is_retried_once_not_buried_at_once(
    sqlite_url: str,
) -> None:
    async def odd_answer(job: Job) -> None:
        raise KeyError("ticket")  # e.g. a proxy's error page instead of the vendor's JSON: may pass

    store, outbox, _, dead = await make(sqlite_url, odd_answer, max_attempts=15)
    await outbox.drain()
    assert await store.jobs_by_state() == {"pending": 1} and dead == []
    await store.close()


async def test_an_error_with_nul_characters_is_kept_on_every_database(database_url: str) -> None:
    async def failing(job: Job) -> None:
        raise RetryableError("zendesk", "HTTP 502 <html>\x00\ud800 bad gateway</html>")

    store, outbox, _, _ = await make(database_url, failing, max_attempts=15)
    await outbox.drain()
    [row] = await store.job_rows("pending")
    assert "bad gateway" in row["last_error"] and "\x00" not in row["last_error"]
    await store.close()


async def test_a_job_that_crashes_the_same_way_twice_is_dead_not_retried_fifteen_times(
    sqlite_url: str,
) -> None:
    async def crashing(job: Job) -> None:
        raise RuntimeError("the same bug")

    store, outbox, clock, dead = await make(sqlite_url, crashing, max_attempts=15)
    await outbox.drain()
    assert await store.jobs_by_state() == {"pending": 1}  # once may be transient
    clock.advance(10_000)
    await outbox.drain()
    assert await store.jobs_by_state() == {"dead": 1}
    assert dead[0][1].startswith("failed the same way twice")
    await store.close()


async def test_a_dead_job_holds_its_conversation_until_a_person_skips_or_replays_it(sqlite_url: str) -> None:
    """Strict order per conversation: the later messages of a conversation whose job died wait (another
    conversation does not); skipping the dead job lets them go, in order."""
    ran: list[str] = []

    async def handler(job: Job) -> None:
        if job.payload.get("poison"):
            job.read(lambda p: p["user"])
        ran.append(job.idempotency_key)

    store, outbox, _, dead = await make(sqlite_url, handler)
    await store.enqueue(
        [NewJob("t", {"poison": True}, "poison", "o")]
        + [NewJob("t", {}, f"later-{i}", "o") for i in range(3)]
        + [NewJob("t", {}, "elsewhere", "other")]
    )
    await outbox.drain()
    assert ran == ["k", "elsewhere"] and len(dead) == 1
    [poison] = await store.job_rows("dead")
    admin = JobAdmin(store.db, store.clock)
    assert await admin.skip(int(poison["id"]), Change("ops@mabanque.fr", "127.0.0.1", "bad payload"))
    await outbox.drain()
    assert ran == ["k", "elsewhere", "later-0", "later-1", "later-2"]
    await store.close()
