"""Every replica follows the store's active policy version: no restart, decisions and audit name the version."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from sav_bridge.model import Audience
from sav_bridge.policy import Policy, live
from sav_bridge.policy.live import LivePolicy, PolicyFile, compile_version
from sav_bridge.store import open_store
from sav_bridge.store.policies import PolicyVersion
from tests.conftest import postgres_schema_url
from tests.harness import CLAIRE, Clock, start_gateway

DEFAULT = Path(__file__).parent.parent / "policies" / "default.yaml"
NO_RULES = """version: 2026.12-test
name: e-mail addresses only
rules:
  - id: email
    description: E-mail addresses, in DMs only.
    detector: {pii: email}
    audience: [dm]
    action: redact
"""
CARD = "Votre carte 4970 1012 3456 7893 est débloquée"


async def test_two_replicas_switch_to_an_activated_version_and_back_without_restart(
    database_url: str,
) -> None:
    first, second = [await open_store(database_url, Clock()) for _ in range(2)]
    replicas = [await LivePolicy.start(s.policies, Policy.from_file(DEFAULT)) for s in (first, second)]
    assert {r.version_id for r in replicas} == {1} and replicas[0].version == replicas[1].version
    assert all(r.decide(CARD, Audience.PUBLIC).action == "block" for r in replicas)
    draft = await first.policies.create(NO_RULES, "alice", "no rules, for the test")
    assert not any([await r.refresh() for r in replicas]), "a draft changes nothing"
    await first.policies.activate(draft.id, "bob")
    assert all([await r.refresh() for r in replicas])
    decisions = [r.decide(CARD, Audience.PUBLIC) for r in replicas]
    assert {d.action for d in decisions} == {"allow"}
    assert {d.policy_version for d in decisions} == {f"2026.12-test (v{draft.id})"}
    await second.policies.activate(1, "bob")  # roll back, from the other replica
    assert all([await r.refresh() for r in replicas])
    assert all(r.decide(CARD, Audience.PUBLIC).action == "block" for r in replicas)
    for store in (first, second):
        await store.close()


async def test_a_restart_keeps_the_active_version_not_the_file(database_url: str) -> None:
    store = await open_store(database_url, Clock())
    await LivePolicy.start(store.policies, Policy.from_file(DEFAULT))
    await store.policies.activate((await store.policies.create(NO_RULES, "alice", "")).id, "bob")
    again = await LivePolicy.start(store.policies, Policy.from_file(DEFAULT))
    assert again.version == "2026.12-test (v2)" and len(await store.policies.all()) == 2
    await store.close()


async def test_on_demand_the_version_in_force_is_named_and_followed_as_compiled_then_compiled_when_used(
    database_url: str,
) -> None:
    """serve's HTTP process, whose workers run apart, compiles the policy only when the console asks:
    meanwhile /readyz and the metrics name the same version, and it follows activations the same way."""
    store = await open_store(database_url, Clock())
    compiled = await LivePolicy.start(store.policies, Policy.from_file(DEFAULT))
    lazy = await LivePolicy.start(store.policies, PolicyFile.read(DEFAULT), on_demand=True)
    assert (
        (lazy.version, lazy.source)
        == (compiled.version, compiled.source)
        == ("2026.12-1 (v1)", "policy version 1")
    )
    broken = await store.policies.create(NO_RULES.replace("action: redact", "action: shout"), "mallory", "")
    await store.policies.activate(broken.id, "mallory")  # a hand-edited row: never followed
    assert [await compiled.refresh(), await lazy.refresh()] == [False, False]
    assert lazy.version_id == compiled.version_id == 1
    draft = await store.policies.create(NO_RULES, "alice", "")
    await store.policies.activate(draft.id, "bob")
    assert [await compiled.refresh(), await lazy.refresh()] == [True, True]
    assert (
        (lazy.version, lazy.source)
        == (compiled.version, compiled.source)
        == (
            f"2026.12-test (v{draft.id})",
            f"policy version {draft.id}",
        )
    )
    decision = lazy.decide(CARD, Audience.PUBLIC)
    assert decision == compiled.decide(CARD, Audience.PUBLIC) and decision.action == "allow"
    assert lazy.current.version == lazy.version
    await store.close()


async def test_on_demand_the_policy_compiles_off_the_event_loop_s_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console's first check compiles the policy (a second or two, cold): on a thread, so the webhooks
    sharing the event loop keep being served meanwhile; once only."""
    compiled_on: list[int] = []

    def compile_and_note(version: PolicyVersion) -> Policy:
        compiled_on.append(threading.get_ident())
        return compile_version(version)

    monkeypatch.setattr(live, "compile_version", compile_and_note)
    store = await open_store(f"sqlite:///{tmp_path / 'live.db'}", Clock())
    try:
        lazy = await LivePolicy.start(store.policies, PolicyFile.read(DEFAULT), on_demand=True)
        policy = await lazy.ready()
        assert compiled_on and threading.get_ident() not in compiled_on
        assert policy is lazy.current and policy.decide(CARD, Audience.PUBLIC).action != "allow"
        assert await lazy.ready() is policy and len(compiled_on) == 1
    finally:
        await store.close()


async def test_the_gateway_audits_each_decision_with_the_version_in_force(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    gw = await start_gateway(sqlite_url, vendor_dir)
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée"))
    await gw.drain()
    ticket = gw.only_ticket()
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(ticket, agent, CARD)
    await gw.ring(ticket)
    await gw.settle()
    assert gw.x.brand_posts == []
    draft = await gw.runtime.store.policies.create(NO_RULES, "alice", "")
    await gw.runtime.store.policies.activate(draft.id, "bob")
    await gw.runtime.policy.refresh()
    assert (await gw.client.get("/readyz")).json()["policy_version"] == f"2026.12-test (v{draft.id})"
    gw.zendesk.agent_comment(ticket, agent, "Bonjour Claire, c'est réglé.")
    await gw.ring(ticket)
    await gw.settle()
    assert [p.text for p in gw.x.brand_posts] == ["Bonjour Claire, c'est réglé. ^AJ"]
    versions = [row["policy_version"] for row in await gw.runtime.store.audit_rows("policy")]
    assert versions == ["2026.12-1 (v1)", f"2026.12-test (v{draft.id})"]
    details = [json.loads(row["detail"]) for row in await gw.runtime.store.audit_rows("policy")]
    assert "4970" not in json.dumps(details)
    await gw.client.aclose()
    await gw.runtime.close()


@pytest.mark.postgres
async def test_on_postgresql_an_activation_wakes_the_other_replicas_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sav_bridge.policy import live

    monkeypatch.setattr(live, "CHECK_SECONDS", 600.0)  # only the wake-up can make the switch in time
    for url in postgres_schema_url():
        writer, reader = [await open_store(url, Clock()) for _ in range(2)]
        follower = await LivePolicy.start(reader.policies, Policy.from_file(DEFAULT))
        stop = asyncio.Event()
        following = asyncio.create_task(follower.follow(stop))
        await asyncio.sleep(1.0)  # the listener's LISTEN is in place
        draft = await writer.policies.create(NO_RULES, "alice", "")
        await writer.policies.activate(draft.id, "bob")
        for _ in range(100):
            if follower.version_id == draft.id:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await following
        assert follower.version_id == draft.id, "the replica did not wake up on the activation"
        for store in (writer, reader):
            await store.close()
