"""The store's small tables on both databases: facts, encrypted credentials replaced by CAS, usage."""

from __future__ import annotations

import asyncio

from sav_bridge.store import open_store
from tests.harness import Clock


async def test_state_facts_are_shared_and_replaced(database_url: str) -> None:
    store = await open_store(database_url, Clock())
    assert await store.state.get("x.mentions.since_id") is None
    await store.state.put("x.mentions.since_id", "1860000000000000001")
    await store.state.put("x.mentions.since_id", "1860000000000000009")
    assert await store.state.get("x.mentions.since_id") == "1860000000000000009"
    await store.state.delete("x.mentions.since_id")
    assert await store.state.get("x.mentions.since_id") is None
    await store.close()


async def test_only_one_of_two_writers_replaces_a_credential(database_url: str) -> None:
    store = await open_store(database_url, Clock())
    assert await store.secrets.create("x.oauth2", "sealed-1", 7200.0)
    assert not await store.secrets.create("x.oauth2", "sealed-other", 7200.0)
    read = await store.secrets.get("x.oauth2")
    assert read is not None and read.version == 1
    results = await asyncio.gather(
        store.secrets.replace("x.oauth2", read.version, "sealed-2a", 9000.0),
        store.secrets.replace("x.oauth2", read.version, "sealed-2b", 9000.0),
    )
    assert sorted(results) == [False, True]
    after = await store.secrets.get("x.oauth2")
    assert after is not None and after.version == 2 and after.ciphertext in {"sealed-2a", "sealed-2b"}
    await store.close()


async def test_usage_adds_up_per_month_and_kind(database_url: str) -> None:
    clock = Clock()
    clock.now = 1_795_000_000.0  # 2026-11-18 UTC
    store = await open_store(database_url, clock)
    await store.usage.add("read.mentions", 1, 20, 100_000)
    await store.usage.add("read.mentions", 1, 5, 25_000)
    clock.advance(86_400)
    await store.usage.add("write.post", 1, 1, 15_000)
    clock.advance(30 * 86_400)  # December: November's totals stay November's
    await store.usage.add("write.post", 1, 1, 15_000)
    assert await store.usage.month("2026-11") == {
        "read.mentions": {"requests": 2, "resources": 25, "cost_micros": 125_000},
        "write.post": {"requests": 1, "resources": 1, "cost_micros": 15_000},
    }
    await store.close()
