"""What compliance staff do, once: the API (JSON) and the page (forms) both call these.

Each operation checks the rules a bank would (four eyes, a version that compiles, a reason for a
rejection), writes the administration log, and raises `Refused` with the status and words to show.
"""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sav_bridge.console.auth import Principal
from sav_bridge.errors import PolicyError
from sav_bridge.flows.outbound import JOB_PUBLISH_REPLY, note_job, replies_ordering
from sav_bridge.model import Audience, Decision, TicketRef
from sav_bridge.policy.console import compile_text
from sav_bridge.runtime import Runtime
from sav_bridge.store import NewJob
from sav_bridge.store.approvals import APPROVED, REJECTED
from sav_bridge.store.database import storable_text
from sav_bridge.store.policies import ACTIVE, PolicyVersion

MAX_REPLAY = 10_000
#: Replies decided between two progress reports (and two yields to the other requests).
REPLAY_STEP = 250
AUDIENCES = {a.value: a for a in Audience}


class Refused(Exception):
    """An operation a person may not do, or not like this: `status` and what to tell them."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


def problem_json(problem: PolicyError) -> dict[str, Any]:
    return {"line": problem.line, "key": problem.key, "message": problem.problem}


# -- versions -------------------------------------------------------------------------------------------
async def validate(text: str) -> list[dict[str, Any]]:
    """Every error of a policy text, with its line and key (empty: it compiles). Compiling takes a second or
    two: on a thread, so the webhooks sharing the event loop do not wait for it (as everywhere below)."""
    return [problem_json(p) for p in (await asyncio.to_thread(compile_text, text, "policy"))[1]]


async def create_version(
    runtime: Runtime, who: Principal, text: str, comment: str, address: str
) -> PolicyVersion:
    """A new draft; `Refused(422)` listing every error when the text does not compile."""
    policy, problems = await asyncio.to_thread(compile_text, text, "policy")
    if policy is None:
        raise Refused(422, f"the policy has {len(problems)} error(s)", [problem_json(p) for p in problems])
    version = await runtime.store.policies.create(text, who.subject, comment[:1000])
    await runtime.store.admin_log.write(who.subject, "policy.create", f"policy/{version.id}", address,
                                        {"comment": version.comment, "version": policy.version})  # fmt: skip
    return version


def activation_refusal(version: PolicyVersion, who: Principal) -> str | None:
    """Why `who` may not activate `version` (None: they may), so the page can say it before they try."""
    if not who.has("approver"):
        return (
            f"activating needs the approver role; {who.subject} has {', '.join(sorted(who.roles)) or 'none'}"
        )
    if who.is_one_of([version.author]) or version.author == storable_text(
        who.subject
    ):  # as the store kept it
        return f"four eyes: version {version.id} was written by {who.subject}; another approver activates it"
    return None


async def activate_version(
    runtime: Runtime, who: Principal, version: PolicyVersion, address: str
) -> PolicyVersion:
    """Make `version` the one in force everywhere (rollback is activating an older one)."""
    refusal = activation_refusal(version, who)
    if refusal:
        raise Refused(403, refusal)
    if version.status == ACTIVE:
        return version
    policy, problems = await asyncio.to_thread(compile_text, version.yaml, f"policy version {version.id}")
    if policy is None:
        raise Refused(422, "this version does not compile", [problem_json(p) for p in problems])
    previous = await runtime.store.policies.active_id()
    active = await runtime.store.policies.activate(version.id, who.subject)
    await runtime.store.admin_log.write(who.subject, "policy.activate", f"policy/{version.id}", address,
                                        {"previous": previous, "rollback": version.status != "draft"})  # fmt: skip
    await runtime.policy.refresh()
    return active


def diff(older: PolicyVersion, newer: PolicyVersion) -> str:
    lines = difflib.unified_diff(older.yaml.splitlines(keepends=True), newer.yaml.splitlines(keepends=True),
                                 f"v{older.id}", f"v{newer.id}")  # fmt: skip
    return "".join(lines)


# -- replaying replies under a version ----------------------------------------------------------------------
Sample = tuple[str, Audience]


@dataclass
class Replay:
    """Decisions under the active policy and a candidate version, the changed ones first once `done`."""

    version: int
    active_version: str
    candidate_version: str
    total: int
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(1 for r in self.results if r["changed"])

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "active_version": self.active_version,
                "candidate_version": self.candidate_version, "tested": len(self.results),
                "changed": self.changed, "results": self.results}  # fmt: skip


async def replay(runtime: Runtime, version: PolicyVersion, samples: list[Sample]) -> AsyncIterator[Replay]:
    """The replay after every `REPLAY_STEP` replies (progress for the page), the last one complete and
    sorted. Yields to other requests between steps: thousands of replies never stall the gateway."""
    candidate, problems = await asyncio.to_thread(
        compile_text, version.yaml, f"policy version {version.id}", f"v{version.id}"
    )
    if candidate is None:
        raise Refused(422, "this version does not compile", [problem_json(p) for p in problems])
    active = await runtime.policy.ready()
    run = Replay(version.id, active.version, candidate.version, len(samples))
    for start in range(0, len(samples), REPLAY_STEP):
        for text, audience in samples[start : start + REPLAY_STEP]:
            now, then = _outcome(active.decide(text, audience)), _outcome(candidate.decide(text, audience))
            run.results.append({"text": text, "audience": audience.value, "active": now, "candidate": then,
                                "changed": now != then})  # fmt: skip
        if len(run.results) < len(samples):
            yield run
            await asyncio.sleep(0)
    run.results.sort(key=lambda r: not r["changed"])
    yield run


async def replay_all(runtime: Runtime, version: PolicyVersion, samples: list[Sample]) -> Replay:
    steps = [step async for step in replay(runtime, version, samples)]
    return steps[-1]


def _outcome(decision: Decision) -> dict[str, Any]:
    return {"action": decision.action, "rules": sorted({f.rule for f in decision.findings})}


def given_samples(texts: Any) -> list[Sample]:
    """`[{"text", "audience"}]` as the API takes it; `ValueError` saying what is wrong."""
    if not isinstance(texts, list) or not 1 <= len(texts) <= MAX_REPLAY:
        raise ValueError(f"texts: 1 to {MAX_REPLAY} items")
    samples = []
    for item in texts:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError('each of texts is {"text": "<reply>", "audience": "public" | "dm"}')
        named = item.get("audience", "public")
        audience = AUDIENCES.get(named) if isinstance(named, str) else None  # a list or an object: no key
        if audience is None:
            raise ValueError('audience is "public" or "dm"')
        samples.append((item["text"], audience))
    return samples


async def audited_samples(runtime: Runtime, since: float | None, limit: int) -> list[Sample]:
    """The texts the audit kept (what was or would have been posted; a blocked reply keeps none, so it
    cannot be replayed), newest first."""
    if not 1 <= limit <= MAX_REPLAY:
        raise ValueError(f"from_audit.limit: 1 to {MAX_REPLAY}")
    rows = await runtime.store.audit_page("policy", since, None, None, None, limit)
    details = (json.loads(row["detail"]) for row in rows)
    return [(d["posted_text"], AUDIENCES.get(d.get("audience"), Audience.PUBLIC))
            for d in details if isinstance(d.get("posted_text"), str)]  # fmt: skip


# -- the approval queue ---------------------------------------------------------------------------------
async def decide_held(
    runtime: Runtime, who: Principal, approval_id: int | None, status: str, comment: str, address: str
) -> dict[str, Any]:
    """Approve (post it once, through the outbox, signed as its agent) or reject (a note says why)."""
    row = await runtime.store.approvals.get(approval_id) if approval_id is not None else None
    if row is None:
        raise Refused(404, "no held reply has this id")
    if not who.has("approver"):
        raise Refused(403, f"deciding a held reply needs the approver role; {who.subject} has not")
    if status == REJECTED and not comment.strip():
        raise Refused(400, 'a rejection says why: {"comment": "<why, for the agent>"}')
    agent = json.loads(row["agent"])
    if who.is_one_of(agent.get(k) for k in ("id", "email", "name") if agent.get(k)):
        raise Refused(403, f"four eyes: {who.subject} wrote this reply; another approver decides it")
    ticket = TicketRef(row["helpdesk"], row["ticket_id"])
    conv = await runtime.store.conversation_for_ticket(ticket)
    if conv is None:
        raise Refused(409, "the ticket is no longer linked to an X conversation")

    def follow(held: dict[str, Any]) -> list[NewJob]:
        key = f"{held['helpdesk']}:{held['comment_id']}"
        if status == APPROVED:
            payload = {**json.loads(held["payload"]), "approved_by": who.subject}
            return [
                NewJob(JOB_PUBLISH_REPLY, payload, f"reply:{key}:approved", replies_ordering(conv.thread_key))
            ]
        text = f"🚫 Not posted on X: rejected by {who.subject} in the compliance console: {comment.strip()[:1000]}"
        return [note_job(ticket, text, f"{key}:rejected", conv.thread_key)]

    decided = await runtime.store.approvals.decide(row["id"], status, who.subject, comment[:1000], follow)
    if decided is None:
        raise Refused(409, "this reply was already decided")
    action = "approval.approve" if status == APPROVED else "approval.reject"
    await runtime.store.admin_log.write(
        who.subject, action, f"approval/{row['id']}", address, {"comment": comment[:1000]}
    )
    runtime.outbox.wake()
    return decided
