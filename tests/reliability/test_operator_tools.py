"""Operator tools: `sav-bridge jobs|quarantine` and `/api/v1/jobs|quarantine` see and move dead letters and
quarantined bodies, print no secret and no customer or agent text, and a replay never writes twice."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sav_bridge.cli import main
from sav_bridge.config import RetentionSettings
from sav_bridge.metrics import Metrics
from sav_bridge.ops import cli as ops_cli
from sav_bridge.ops import gauges
from sav_bridge.ops.jobs import JobOps, Refused, parse_duration
from sav_bridge.ops.quarantine import QuarantineOps
from sav_bridge.ops.scrub import Scrubber
from sav_bridge.retention import purge
from sav_bridge.sandbox import Fault
from sav_bridge.store import NewJob, Store, open_store
from sav_bridge.store.job_admin import STATES, Change, JobAdmin
from tests import strategies as odd
from tests.console.test_api import AUDIENCE, ISSUER, PUBLIC_PEM, token
from tests.harness import CLAIRE, ZENDESK_TOKEN, Clock, Gateway, gateway_env, start_gateway
from tests.live import Live, live_gateway

POST = "/2/tweets"
TIMELINE = r"/2/users/\d+/tweets"
CARD = "4970 1012 3456 7893"
DOWNLOAD = "https://mabanque.zendesk.com/attachments/token/Zx9dl0adT0ken/?name=releve.png"
SRE = Change("sre@mabanque.fr", "test", "")
OPERATOR = {"authorization": f"Bearer {token('olivia', ['operator'])}"}
APPROVER = {"authorization": f"Bearer {token('bob', ['approver'])}"}
JWT_ENV = {"SAV_BRIDGE_CONSOLE__JWT__PUBLIC_KEY": PUBLIC_PEM, "SAV_BRIDGE_CONSOLE__JWT__ISSUER": ISSUER,
           "SAV_BRIDGE_CONSOLE__JWT__AUDIENCE": AUDIENCE}  # fmt: skip


def reply_payload(comment: str, body: str = f"Votre carte {CARD} est débloquée") -> dict[str, Any]:
    return {"helpdesk": "zendesk", "ticket_id": "7", "comment_id": comment, "body": body, "agent_id": "1",
            "agent_name": "Amélie", "wants_dm": False,
            "attachments": [{"id": "9", "filename": "releve.png", "content_type": "image/png", "size": 10,
                             "url": DOWNLOAD}]}  # fmt: skip


async def run_then(store: Store, job: NewJob, outcome: str, error: str = "") -> int:
    """Enqueue `job`, claim it and leave it `outcome` (done, dead or pending again); its id."""
    await store.enqueue([job])
    claimed = await store.claim(120)
    assert claimed is not None and claimed.idempotency_key == job.idempotency_key
    if outcome == "done":
        await store.finish(claimed)
    elif outcome == "dead":
        await store.bury(claimed, error)
    else:
        await store.reschedule(claimed, store.clock() + 3 * 3600, error)
    return claimed.id


async def seed(url: str) -> dict[str, int]:
    """A dead reply holding its conversation, a done delivery, a reply waiting an hour, in that order,
    an hour apart; the dead reply's error carries a configured secret."""
    clock = Clock()
    clock.advance(-3 * 3600)
    store = await open_store(url, clock)
    ids = {"dead": await run_then(
        store, NewJob("reply.publish", reply_payload("501"), "reply:zendesk:501", "x:post:1:replies"), "dead",
        f"zendesk: token={ZENDESK_TOKEN} refused (HTTP 401), gave up after 15 attempts " + "and more " * 30,
    )}  # fmt: skip
    later = clock.now + 86400  # it waits in any case: whether a dead job holds it is the claim's business
    await store.enqueue([NewJob("helpdesk.note", {"text": "✅"}, "note:1", "x:post:1:replies", later)])
    ids["held"] = next(r["id"] for r in await store.job_rows() if r["idempotency_key"] == "note:1")
    clock.advance(3600)
    ids["done"] = await run_then(
        store, NewJob("x.message", {"id": "2", "text": "bonjour"}, "x.message:post:2", "x:post:2"), "done"
    )
    clock.advance(3600)
    ids["waiting"] = await run_then(
        store, NewJob("reply.publish", reply_payload("502"), "reply:zendesk:502", "x:post:3:replies"), "pending",
        "zendesk: HTTP 429",
    )  # fmt: skip
    await store.close()
    return ids


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """The gateway's configuration in the environment, as `sav-bridge` reads it; the database URL."""
    for key, value in gateway_env(database_url).items():
        monkeypatch.setenv(key, value)
    return database_url


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def job_row(url: str, job_id: int) -> dict[str, Any]:
    store = await open_store(url)
    row = await JobAdmin(store.db, store.clock).get(job_id)
    await store.close()
    assert row is not None
    return row


# -- jobs list and show ----------------------------------------------------------------------------
def test_list_filters_by_state_kind_conversation_and_age(
    configured: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = asyncio.run(seed(configured))
    code, out, _ = cli(capsys, "jobs", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "KIND", "STATE", "ATT", "AGE", "NEXT", "ORDERING", "KEY",
                                              "LAST", "ERROR"]  # fmt: skip
    assert [int(line.split()[0]) for line in lines[1:]] == sorted(ids.values(), reverse=True)
    held = next(line for line in lines if line.startswith(f"{ids['held']} "))
    assert f"held by {ids['dead']}" in held
    dead = next(line for line in lines if line.startswith(f"{ids['dead']} "))
    assert "dead" in dead and "token=***" in dead and dead.endswith("…") and ZENDESK_TOKEN not in out
    assert re.search(r"in (1h59m|2h00m)", out)  # the waiting job's next attempt

    def listed(*filters: str) -> list[int]:
        code, out, _ = cli(capsys, "jobs", "list", "--json", *filters)
        assert code == 0
        return [job["id"] for job in json.loads(out)["jobs"]]

    assert listed("--state", "dead") == [ids["dead"]]
    assert listed("--kind", "x.message") == [ids["done"]]
    assert listed("--conversation", "x:post:1:replies") == [ids["held"], ids["dead"]]
    assert listed("--older-than", "150m") == [ids["held"], ids["dead"]]
    assert listed("--limit", "1") == [ids["waiting"]]
    code, out, _ = cli(capsys, "jobs", "list", "--json", "--state", "dead")
    [job] = json.loads(out)["jobs"]
    assert (
        job["attempts"] == 1
        and job["idempotency_key"] == "reply:zendesk:501"
        and len(job["last_error"]) == 200
    )
    assert cli(capsys, "jobs", "list", "--older-than", "2 hours")[0] == 2


def test_show_tells_what_a_job_did_without_its_text_or_any_token(
    configured: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = asyncio.run(seed(configured))

    async def effects() -> None:
        store = await open_store(configured)
        await store.record_intent("post:zendesk:501:0", "1800000000000000001", "a" * 64, "b" * 64)
        await store.complete_intent("post:zendesk:501:0", "1790000000000000042")
        await store.record_intent("post:zendesk:501:1", "1790000000000000042", "c" * 64, "d" * 64)
        await store.close()

    asyncio.run(effects())
    code, out, _ = cli(capsys, "jobs", "show", str(ids["dead"]))
    assert code == 0 and f"job {ids['dead']} · reply.publish · dead" in out
    assert re.search(rf"holds\s+{ids['held']} helpdesk.note \(pending\)", out)
    assert re.search(r"result\s+post:zendesk:501:0\s+\"1790000000000000042\"", out)
    assert re.search(r"intent\s+post:zendesk:501:1\s+to 1790000000000000042, first sent .*reads X back", out)
    for leaked in (CARD, "4970", "débloquée", "Zx9dl0adT0ken", "releve.png?", ZENDESK_TOKEN):
        assert leaked not in out, leaked
    assert '"body": "‹45 characters, sha256' in out and '"url": "https://mabanque.zendesk.com/…"' in out
    code, out, _ = cli(capsys, "jobs", "show", str(ids["done"]), "--json")
    detail = json.loads(out)
    assert detail["payload"] == {"id": "2", "text": detail["payload"]["text"]} and "bonjour" not in out
    assert detail["effects"] == [] and "helpdesk itself" in detail["effects_note"]
    assert cli(capsys, "jobs", "show", "999")[0:3:2] == (1, "sav-bridge: no job has id 999\n")


# -- retry, replay, skip -------------------------------------------------------------------------------
def test_retry_replay_and_skip_follow_the_jobs_state_and_are_logged(
    configured: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = asyncio.run(seed(configured))
    code, _, err = cli(capsys, "jobs", "replay", str(ids["done"]))
    assert code == 1 and "needs --force" in err
    code, _, err = cli(capsys, "jobs", "skip", str(ids["waiting"]), "--reason", "no")
    assert code == 1 and "only a dead job can be skipped" in err

    waiting = asyncio.run(job_row(configured, ids["waiting"]))
    code, out, _ = cli(capsys, "jobs", "retry", str(ids["waiting"]), "--actor", "sre")
    assert code == 0 and "attempts kept (1)" in out
    retried = asyncio.run(job_row(configured, ids["waiting"]))
    assert retried["next_attempt_at"] < waiting["next_attempt_at"] - 3000 and retried["attempts"] == 1

    code, out, _ = cli(capsys, "jobs", "replay", str(ids["dead"]), "--actor", "sre")
    replayed = asyncio.run(job_row(configured, ids["dead"]))
    assert code == 0 and "pending again with idempotency key reply:zendesk:501" in out
    assert (replayed["state"], replayed["attempts"], replayed["idempotency_key"]) == (
        "pending",
        1,
        "reply:zendesk:501",
    )

    async def more_dead() -> list[int]:
        store = await open_store(configured, Clock())
        due = store.clock() - 86400  # before the jobs retried and replayed above, which are due now too
        made = [await run_then(store, NewJob("helpdesk.note", {"ticket_id": "7", "text": "x"}, f"note:d{i}",
                                             f"x:post:{9 + i}", due), "dead", "HTTP 422") for i in range(2)]  # fmt: skip
        await store.close()
        return made

    dead = asyncio.run(more_dead())
    code, _, err = cli(capsys, "jobs", "skip", "--all-dead", "--reason", "ticket deleted")
    assert code == 1 and f"add --yes to skip these 2 dead job(s): {dead[0]}, {dead[1]}" in err
    assert asyncio.run(job_row(configured, dead[0]))["state"] == "dead"
    code, out, _ = cli(
        capsys, "jobs", "skip", "--all-dead", "--yes", "--reason", "ticket deleted", "--actor", "sre"
    )
    assert code == 0 and out.splitlines()[0].startswith(f"[1/2] job {dead[0]} (helpdesk.note) is skipped")
    assert out.splitlines()[-1] == "2 done, 0 refused"
    assert {asyncio.run(job_row(configured, i))["state"] for i in dead} == {"skipped"}
    code, out, _ = cli(capsys, "jobs", "replay", str(dead[1]), str(ids["done"]), "--actor", "sre")
    assert code == 1 and out.splitlines()[-1] == "1 done, 1 refused"

    code, out, _ = cli(capsys, "jobs", "show", str(dead[0]), "--json")
    [entry] = json.loads(out)["history"]
    assert (entry["actor"], entry["action"], entry["reason"]) == ("sre", "job.skip", "ticket deleted")
    assert entry["address"].startswith("cli@")


def test_durations_and_states() -> None:
    assert parse_duration("90s") == 90 and parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800
    for wrong in ("", "2", "h", "2 hours", "-1h", "1e3s"):
        with pytest.raises(ValueError):
            parse_duration(wrong)
    assert ops_cli.STATES == STATES  # the command line lists them without importing the store


# -- metrics ----------------------------------------------------------------------------------------------
async def test_gauges_count_dead_letters_held_conversations_and_queue_age(database_url: str) -> None:
    clock = Clock()
    store = await open_store(database_url, clock)
    first = await run_then(store, NewJob("reply.publish", {}, "r1", "conv-a"), "dead", "HTTP 400")
    await run_then(store, NewJob("x.message", {}, "m1", "conv-b"), "dead", "HTTP 422")
    await store.enqueue([NewJob("helpdesk.note", {}, "n1", "conv-a")])  # held behind the dead reply
    await store.enqueue([NewJob("x.message", {}, "m2", "conv-c", not_before=clock.now - 90)])
    await store.enqueue([NewJob("x.message", {}, "m3", "conv-c")])  # behind m2: not runnable yet
    await store.enqueue([NewJob("x.message", {}, "m4", "conv-d", not_before=clock.now + 600)])
    metrics = Metrics()
    await gauges.refresh(metrics, store)
    text = metrics.render({}).decode()
    assert 'sav_bridge_dead_jobs{kind="reply.publish"} 1.0' in text
    assert 'sav_bridge_dead_jobs{kind="x.message"} 1.0' in text
    assert 'sav_bridge_dead_jobs{kind="helpdesk.note"} 0.0' in text
    assert "sav_bridge_held_conversations 2.0" in text and "sav_bridge_queue_age_seconds 90.0" in text
    await JobAdmin(store.db, clock).skip(first, SRE)
    clock.advance(10)
    await gauges.refresh(metrics, store)
    text = metrics.render({}).decode()
    assert 'sav_bridge_dead_jobs{kind="reply.publish"} 0.0' in text
    assert "sav_bridge_held_conversations 1.0" in text and "sav_bridge_queue_age_seconds 100.0" in text
    await store.close()


def test_alert_rules_name_only_metrics_the_gateway_exports() -> None:
    rules = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml").read_text())
    exported = set()
    for family in Metrics().registry.collect():
        exported.add(family.name + {"counter": "_total", "info": "_info"}.get(family.type, ""))
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert {"SavBridgeDeadLetters", "SavBridgeHeldConversation", "SavBridgeQueueAge",
            "SavBridgeXTokenExpiring", "SavBridgeBreakerOpen"} <= set(alerts)  # fmt: skip
    for name, rule in alerts.items():
        named = set(re.findall(r"sav_bridge_[a-z_]+", rule["expr"]))
        assert named and named <= exported, (name, named - exported)
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["runbook"]


# -- end to end on the sandboxes -------------------------------------------------------------------
@pytest.fixture
async def gw(
    database_url: str, vendor_dir: Path | None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    for key, value in gateway_env(database_url).items():
        monkeypatch.setenv(key, value)  # for `sav-bridge jobs …` run beside the gateway
    gateway = await start_gateway(database_url, vendor_dir, **JWT_ENV)
    yield gateway
    await gateway.client.aclose()
    await gateway.runtime.close()
    assert gateway.sandbox.violations == []


async def public_reply(gw: Gateway, text: str) -> tuple[int, int]:
    """A customer's mention, its ticket, an agent's answer posted on X; (ticket id, reply job id)."""
    assert (await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée"))).status_code == 200
    await gw.drain()
    ticket = gw.only_ticket()
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(ticket, agent, text)
    await gw.ring(ticket)
    await gw.settle()
    [job] = [j for j in await gw.runtime.store.job_rows() if j["kind"] == "reply.publish"]
    return ticket, int(job["id"])


async def test_replaying_a_done_reply_with_force_posts_nothing_twice(gw: Gateway) -> None:
    ticket, job_id = await public_reply(gw, "Merci de votre patience !")
    assert len(gw.x.brand_posts) == 1
    code = await asyncio.to_thread(main, ["jobs", "replay", str(job_id), "--actor", "sre"])
    assert code == 1 and (await job_row(gw.settings.database_url, job_id))["state"] == "done"
    code = await asyncio.to_thread(main, ["jobs", "replay", str(job_id), "--force", "--actor", "sre"])
    assert code == 0 and (await job_row(gw.settings.database_url, job_id))["state"] == "pending"
    gw.clock.advance(300)  # the command line stamped the job with the real time
    await gw.settle()
    assert len(gw.x.brand_posts) == 1 and len(gw.x.calls("POST", POST)) == 1
    assert [n for n in gw.zendesk.notes(ticket) if n.startswith("✅")] == [
        f"✅ Posted on X:\nhttps://x.com/MaBanque/status/{gw.x.brand_posts[0].id}"
    ]
    assert set(await gw.runtime.store.jobs_by_state()) == {"done"}


async def test_a_dead_reply_that_did_reach_x_is_replayed_by_reading_back(gw: Gateway) -> None:
    gw.x.faults.add(Fault("POST", POST, applied=True))  # posted, answer lost
    gw.x.faults.add(Fault("GET", TIMELINE, status=403))  # reading back refused: the job dies
    ticket, job_id = await public_reply(gw, "Votre carte est débloquée.")
    ops = JobOps(gw.runtime.store, Scrubber())
    shown = await ops.show(job_id)
    assert shown["state"] == "dead" and [e["type"] for e in shown["effects"]] == ["intent"]
    assert any(n.startswith("⚠️ Not confirmed on X") for n in gw.zendesk.notes(ticket))
    done = await ops.replay(job_id, SRE)
    assert done["job"]["attempts"] == 1
    await gw.settle()
    [post] = gw.x.brand_posts
    assert len(gw.x.calls("POST", POST)) == 1 and (await ops.show(job_id))["state"] == "done"
    assert [e["type"] for e in (await ops.show(job_id))["effects"]] == ["result"]
    assert f"✅ Posted on X:\nhttps://x.com/MaBanque/status/{post.id}" in gw.zendesk.notes(ticket)


async def test_replaying_a_delivered_message_adds_no_second_comment(gw: Gateway) -> None:
    first = gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée")
    await gw.post_x(first)
    await gw.drain()
    later = gw.x.customer_post(
        CLAIRE, "@MaBanque toujours rien", in_reply_to=first["tweet_create_events"][0]["id_str"]
    )
    await gw.post_x(later)
    await gw.drain()
    ticket = gw.only_ticket()
    assert len(gw.zendesk.public_comments(ticket)) == 2
    job_id = max(j["id"] for j in await gw.runtime.store.job_rows() if j["kind"] == "x.message")
    await JobOps(gw.runtime.store, Scrubber()).replay(job_id, SRE, force=True)
    await gw.settle()
    assert len(gw.zendesk.public_comments(ticket)) == 2  # the plugin looked before writing (attempts > 1)
    assert (await job_row(gw.settings.database_url, job_id))["state"] == "done"


async def test_an_archived_job_is_shown_from_the_archive_and_never_replayed(gw: Gateway) -> None:
    ticket, job_id = await public_reply(gw, "Merci !")
    gw.clock.advance(8 * 86400)
    assert (await purge(gw.runtime.store, RetentionSettings())).jobs_archived >= 3
    ops = JobOps(gw.runtime.store, Scrubber())
    shown = await ops.show(job_id)
    assert (shown["archived"], shown["state"], shown["kind"], shown["payload"]) == (
        True,
        "done",
        "reply.publish",
        {},
    )
    assert shown["ticket"] == f"zendesk:{ticket}" and shown["idempotency_key"].startswith("reply:zendesk:")
    with pytest.raises(Refused, match=r"is archived .* cannot run again"):
        await ops.replay(job_id, SRE, force=True)
    code = await asyncio.to_thread(main, ["jobs", "show", str(job_id)])
    assert code == 0


async def test_a_skipped_job_never_runs(gw: Gateway) -> None:
    store = gw.runtime.store
    job_id = await run_then(store, NewJob("helpdesk.note", {"ticket_id": "404", "text": "x"}, "note:x", "k"), "dead",
                            "HTTP 404")  # fmt: skip
    ops = JobOps(store, Scrubber())
    with pytest.raises(Refused, match="needs a reason"):
        await ops.skip(job_id, SRE)
    await ops.skip(job_id, Change("sre", "test", "the ticket was deleted"))
    gw.clock.advance(86400)
    assert await gw.drain() == 0 and (await job_row(gw.settings.database_url, job_id))["state"] == "skipped"
    with pytest.raises(Refused, match="is skipped: `replay` runs it again"):
        await ops.retry(job_id, SRE)


# -- quarantine ---------------------------------------------------------------------------------------
async def test_a_quarantined_body_read_by_todays_parser_is_accepted_once(gw: Gateway) -> None:
    store = gw.runtime.store
    body = gw.x.customer_post(CLAIRE, "@MaBanque ma carte 4970 1012 3456 7893 est bloquée")
    raw = json.dumps(body).encode()
    assert await store.quarantine("x", raw, "an older parser could not read it")
    await gw.post_x({"neither": "envelope"})  # unreadable today too
    ops = QuarantineOps(store, gw.runtime.metrics, Scrubber(gw.settings.secrets()), gw.settings.x.account_id,
                        gw.runtime.helpdesk)  # fmt: skip
    rows, more = await ops.list(None)
    assert [r["source"] for r in rows] == ["x", "x"] and not more
    readable, unreadable = rows[1]["id"], rows[0]["id"]
    shown = json.dumps(await ops.show(readable), ensure_ascii=False)
    assert "4970" not in shown and "characters, sha256" in shown and "tweet_create_events" in shown

    done = await ops.replay(readable, SRE)
    assert (done["read"], done["accepted"]) == ("all", 1) and "leaves the quarantine" in done["message"]
    await gw.drain()
    assert len(gw.zendesk.tickets) == 1
    assert (await gw.post_x(body)).json()["duplicates"] == 1  # X delivering it again: never twice
    with pytest.raises(Refused, match="no quarantined body has id"):
        await ops.replay(readable, SRE)

    kept = await ops.replay(unreadable, SRE)
    assert kept["read"] == "none" and "still cannot be read" in kept["message"]
    assert await asyncio.to_thread(main, ["quarantine", "replay", str(unreadable), "--actor", "sre"]) == 1
    [row] = (await ops.list(None))[0]
    assert row["id"] == unreadable
    assert [h["actor"] for h in (await ops.show(unreadable))["history"]] == [SRE.actor, "sre"]


async def test_quarantined_helpdesk_notices_and_polled_pages_replay_once(gw: Gateway) -> None:
    store = gw.runtime.store
    ops = QuarantineOps(store, gw.runtime.metrics, Scrubber(), gw.settings.x.account_id, gw.runtime.helpdesk)
    _, doorbell = gw.zendesk.doorbell(12)
    for expected in (1, 0):  # the same body kept again later: its events are named after its digest
        await store.quarantine("zendesk", doorbell, "an older plugin could not read it")
        [row] = (await ops.list("zendesk"))[0]
        done = await ops.replay(row["id"], SRE)
        assert (done["accepted"], done["duplicates"]) == (expected, 1 - expected)
    page = {"data": [{"id": "1860000000000000001", "text": "@MaBanque allô", "author_id": CLAIRE.id,
                      "conversation_id": "1860000000000000001", "created_at": "2026-11-25T02:17:38.000Z",
                      "entities": {"mentions": [{"username": "MaBanque", "id": gw.settings.x.account_id}]}}],
            "includes": {"users": [{"id": CLAIRE.id, "username": CLAIRE.screen_name, "name": CLAIRE.name}]}}  # fmt: skip
    await store.quarantine("x:mentions", json.dumps(page).encode(), "an older parser")
    [row] = (await ops.list("x:mentions"))[0]
    assert (await ops.replay(row["id"], SRE))["accepted"] == 1
    await store.quarantine("elsewhere", b"{}", "?")
    [row] = (await ops.list("elsewhere"))[0]
    with pytest.raises(Refused, match="not 'elsewhere'"):
        await ops.replay(row["id"], SRE)


async def test_show_masks_a_session_id_in_a_body_that_is_not_json(gw: Gateway) -> None:
    store = gw.runtime.store
    soap = b"<soapenv:Envelope><sf:SessionId>00D5g0000004ABC!AQ4AQBsecret</sf:SessionId><sf:Id>500</sf:Id>"
    await store.quarantine("salesforce", soap, "not an outbound message")
    ops = QuarantineOps(store, gw.runtime.metrics, Scrubber(), gw.settings.x.account_id, gw.runtime.helpdesk)
    [row] = (await ops.list(None))[0]
    shown = await ops.show(row["id"])
    assert (
        shown["body_format"] == "text"
        and "AQBsecret" not in shown["body"]
        and "<sf:Id>500</sf:Id>" in shown["body"]
    )


# -- the JSON API ---------------------------------------------------------------------------------------
async def test_the_api_needs_the_operator_role_and_answers_each_state_clearly(gw: Gateway) -> None:
    ticket, job_id = await public_reply(gw, "Merci !")
    client = gw.client
    assert (await client.get("/api/v1/jobs")).status_code == 401
    refused = await client.get("/api/v1/jobs", headers=APPROVER)
    assert refused.status_code == 403 and "operator role" in refused.json()["error"]
    listed = (await client.get("/api/v1/jobs?kind=reply.publish", headers=OPERATOR)).json()
    assert [j["id"] for j in listed["jobs"]] == [job_id] and listed["more"] is False
    assert (await client.get("/api/v1/jobs?older_than=soon", headers=OPERATOR)).status_code == 400
    assert (await client.get("/api/v1/jobs/98765", headers=OPERATOR)).status_code == 404
    shown = (await client.get(f"/api/v1/jobs/{job_id}", headers=OPERATOR)).json()
    assert (
        shown["state"] == "done"
        and shown["ticket"] == f"zendesk:{ticket}"
        and shown["effects"][0]["type"] == "result"
    )

    again = await client.post(f"/api/v1/jobs/{job_id}/replay", headers=OPERATOR)
    assert again.status_code == 409 and "needs --force" in again.json()["error"]
    skip = await client.post(f"/api/v1/jobs/{job_id}/skip", json={"reason": "x"}, headers=OPERATOR)
    assert skip.status_code == 409 and "only a dead job" in skip.json()["error"]
    assert (
        await client.post(f"/api/v1/jobs/{job_id}/replay", json={"force": "yes"}, headers=OPERATOR)
    ).status_code == 400
    forced = await client.post(f"/api/v1/jobs/{job_id}/replay", json={"force": True}, headers=OPERATOR)
    assert forced.status_code == 200 and forced.json()["job"]["state"] == "pending"
    assert "post:zendesk:" in forced.json()["message"]
    gw.clock.advance(1)
    await gw.settle()
    assert len(gw.x.brand_posts) == 1

    await gw.post_x({"neither": "envelope"})
    [row] = (await client.get("/api/v1/quarantine", headers=OPERATOR)).json()["quarantine"]
    assert (await client.get(f"/api/v1/quarantine/{row['id']}", headers=OPERATOR)).json()[
        "body_format"
    ] == "json"
    replayed = await client.post(f"/api/v1/quarantine/{row['id']}/replay", headers=OPERATOR)
    assert replayed.status_code == 200 and replayed.json()["read"] == "none"
    log = (await client.get("/api/v1/admin-log", headers=APPROVER)).json()["entries"]
    assert [(e["actor"], e["action"]) for e in log[:2]] == [
        ("olivia", "quarantine.replay"),
        ("olivia", "job.replay"),
    ]

    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert {"/api/v1/jobs", "/api/v1/jobs/{id}/skip", "/api/v1/quarantine/{id}/replay"} <= set(paths)
    metrics = (await client.get("/metrics")).text
    assert (
        "sav_bridge_held_conversations 0.0" in metrics
        and 'sav_bridge_dead_jobs{kind="reply.publish"} 0.0' in metrics
    )


# -- whatever a script or an attacker sends the operator API: never a 500 ---------------------------------
GETS = ["/api/v1/jobs", "/api/v1/jobs/{id}", "/api/v1/quarantine", "/api/v1/quarantine/{id}"]
POSTS = ["/api/v1/jobs/{id}/retry", "/api/v1/jobs/{id}/replay", "/api/v1/jobs/{id}/skip",
         "/api/v1/quarantine/{id}/replay"]  # fmt: skip
QUERY_KEYS = ["state", "kind", "conversation", "older_than", "limit", "source"]
texts = st.sampled_from(odd.TRICKY_STRINGS) | st.text(max_size=30)
ids = st.sampled_from(["1", "2", "3", "0", "-1", "9" * 40, "1e3", "%00", "x", " 1"]) | st.integers(0, 4).map(
    str
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, vendor_dir: Path | None
) -> Iterator[Live]:
    for opened in live_gateway(request.param, tmp_path_factory, vendor_dir, **JWT_ENV):
        opened.loop.run_until_complete(stock(opened.gw.runtime.store))
        yield opened


async def stock(store: Store) -> None:
    """A dead job, a done one and a quarantined body for the odd requests to aim at."""
    await run_then(store, NewJob("helpdesk.note", {"ticket_id": "1", "text": "x"}, "n", "a"), "dead", "422")
    await run_then(store, NewJob("helpdesk.note", {"ticket_id": "1", "text": "y"}, "m", "b"), "done")
    await store.quarantine("x", b'{"neither": "envelope"}', "neither envelope")


def answered(live: Live, method: str, path: str, content_type: str | None = None, body: bytes = b"") -> int:
    headers = {**OPERATOR, "content-type": content_type} if content_type is not None else OPERATOR

    async def call() -> int:
        response = await live.gw.client.request(method, path, headers=headers, content=body)
        assert response.status_code < 500, (method, path, response.status_code, response.text[:300], body)
        assert response.status_code == 200 or "error" in response.json()
        return response.status_code

    return live.loop.run_until_complete(call())


@settings(odd.FUZZ, max_examples=150)
@given(route=st.sampled_from(GETS), id_=ids, query=st.dictionaries(st.sampled_from(QUERY_KEYS), texts))
@example(
    route="/api/v1/jobs", id_="1", query={"kind": "a\x00b", "conversation": "\ud800"}
)  # PostgreSQL: no NUL
@example(route="/api/v1/quarantine", id_="1", query={"source": "\x00"})
def test_odd_ids_and_queries_are_clear_answers(
    live: Live, route: str, id_: str, query: dict[str, str]
) -> None:
    path = route.replace("{id}", quote(id_, errors="surrogatepass"))
    answered(live, "GET", f"{path}?{urlencode(query, errors='surrogatepass')}")


@settings(odd.FUZZ, max_examples=150)
@given(route=st.sampled_from(POSTS), id_=ids, document=odd.json_values | st.fixed_dictionaries(
    {"force": odd.json_values, "reason": texts}),
       content_type=st.sampled_from(["application/json", "text/plain", ""]))  # fmt: skip
def test_odd_actions_are_clear_answers(
    live: Live, route: str, id_: str, document: Any, content_type: str
) -> None:
    path = route.replace("{id}", quote(id_, errors="surrogatepass"))
    body = json.dumps(document).encode()
    answered(live, "POST", path, content_type, body)
