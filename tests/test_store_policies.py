"""Policy versions in the store, on both databases: seeded once, exactly one active, rollback by activation."""

from __future__ import annotations

import asyncio

import pytest

from sav_bridge.store import open_store
from sav_bridge.store.policies import ACTIVE, DRAFT, RETIRED, UnknownVersion
from tests.harness import Clock

FILE_POLICY = "version: 2026.11-1\nrules: []\n"


async def test_the_file_policy_seeds_version_1_once_even_when_replicas_start_together(
    database_url: str,
) -> None:
    stores = [await open_store(database_url, Clock()) for _ in range(3)]
    seeded = await asyncio.gather(*(s.policies.seed(FILE_POLICY, "policies/default.yaml") for s in stores))
    assert {v.id for v in seeded} == {seeded[0].id} and seeded[0].status == ACTIVE
    assert seeded[0].comment == "seeded from policies/default.yaml" and seeded[0].yaml == FILE_POLICY
    again = await stores[0].policies.seed("version: other\nrules: []\n", "elsewhere.yaml")
    assert again.id == seeded[0].id and again.yaml == FILE_POLICY, "a later start never reseeds"
    assert len(await stores[0].policies.all()) == 1
    for store in stores:
        await store.close()


async def test_activating_retires_the_previous_version_and_a_rollback_is_an_activation(
    database_url: str,
) -> None:
    store = await open_store(database_url, Clock())
    first = await store.policies.seed(FILE_POLICY, "default.yaml")
    draft = await store.policies.create("version: 2026.12-1\nrules: []\n", "alice", "stricter")
    assert draft.status == DRAFT and draft.author == "alice" and draft.activated_at is None
    assert await store.policies.active_id() == first.id
    active = await store.policies.activate(draft.id, "bob")
    assert (active.status, active.activated_by) == (ACTIVE, "bob") and active.activated_at is not None
    assert (await store.policies.get(first.id)).status == RETIRED
    assert await store.policies.active_id() == draft.id
    await store.policies.activate(first.id, "bob")  # roll back
    statuses = {v.id: v.status for v in await store.policies.all()}
    assert statuses == {first.id: ACTIVE, draft.id: RETIRED}
    with pytest.raises(UnknownVersion):
        await store.policies.activate(999_999, "bob")
    await store.close()


async def test_two_activations_at_once_leave_exactly_one_active(database_url: str) -> None:
    store = await open_store(database_url, Clock())
    await store.policies.seed(FILE_POLICY, "default.yaml")
    drafts = [await store.policies.create(f"version: v{n}\nrules: []\n", "alice", "") for n in range(4)]
    await asyncio.gather(*(store.policies.activate(d.id, "bob") for d in drafts))
    assert [v.status for v in await store.policies.all()].count(ACTIVE) == 1
    await store.close()
