"""`/api/v1/`: policy versions (list, create, read, diff, activate), decisions, the administration log.

Every route but the OpenAPI document needs the identity provider's token (401 without one, 403 without
the role: viewer reads, editor writes drafts, approver activates); nobody activates a version they wrote
(four eyes). Every change is written to the administration log with who, what, when and the caller's
address. Without `console.jwt` the API is off: every route answers 404 saying how to turn it on.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sav_bridge.console.auth import Forbidden, NotAuthenticated, Principal, TokenVerifier
from sav_bridge.console.openapi import OPENAPI
from sav_bridge.errors import PolicyError
from sav_bridge.flows.outbound import JOB_PUBLISH_REPLY, note_job, replies_ordering
from sav_bridge.model import Audience, TicketRef
from sav_bridge.policy.console import compile_text, record
from sav_bridge.runtime import Runtime
from sav_bridge.store import NewJob
from sav_bridge.store.approvals import APPROVED, PENDING, REJECTED, approval_json
from sav_bridge.store.policies import ACTIVE, PolicyVersion, UnknownVersion

MAX_YAML = 256 * 1024
Handler = Callable[[Request, Runtime, Principal], Awaitable[Response]]


def _error(status: int, message: str, **more: Any) -> JSONResponse:
    return JSONResponse({"error": message, **more}, status)


def _guarded(role: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """`handler` for callers holding `role`, once their token is verified."""

    async def endpoint(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
        if verifier is None:
            return _error(404, "the compliance API is off: set console.jwt (README, Compliance console)")
        try:
            principal = await verifier.verify(request.headers.get("authorization"))
            principal.require(role)
        except NotAuthenticated as exc:
            return JSONResponse(
                {"error": str(exc)}, 401, headers={"WWW-Authenticate": 'Bearer realm="sav-bridge"'}
            )
        except Forbidden as exc:
            return _error(403, str(exc))
        try:
            return await handler(request, runtime, principal)
        except UnknownVersion:
            return _error(404, "no policy version has this id")

    return endpoint


async def _json_body(request: Request, limit: int, empty_ok: bool = False) -> dict[str, Any]:
    """The JSON object a request carries, read no further than `limit` bytes; `ValueError` otherwise."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ValueError(f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    async for chunk in request.stream():
        chunks.append(chunk)
        if sum(map(len, chunks)) > limit:
            raise ValueError(f"the body is over {limit} bytes")
    body = b"".join(chunks)
    if empty_ok and not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _number_or_none(raw: object) -> int | None:
    """A non-negative id or count from a path or query parameter; None for anything else."""
    return int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 12 else None


def _path_id(request: Request) -> int | None:
    """The `{id}` of the path (a policy version or a held reply), None when it is not one."""
    return _number_or_none(request.path_params.get("id", ""))


async def _requested_version(request: Request, runtime: Runtime) -> PolicyVersion:
    """The version the path names; `UnknownVersion` (a 404, from `_guarded`) for any other id."""
    version_id = _path_id(request)
    return await runtime.store.policies.get(version_id if version_id is not None else -1)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# -- policies ----------------------------------------------------------------------------------------
async def list_policies(request: Request, runtime: Runtime, who: Principal) -> Response:
    versions = await runtime.store.policies.all()
    return JSONResponse({"policies": [v.as_json(with_yaml=False) for v in versions]})


async def create_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    try:
        body = await _json_body(request, MAX_YAML + 4096)
    except ValueError as exc:
        return _error(400, str(exc))
    text, comment = body.get("yaml"), body.get("comment", "")
    if not isinstance(text, str) or not text.strip() or not isinstance(comment, str):
        return _error(400, 'the body must be {"yaml": "<policy>", "comment": "<why>"}')
    policy, problems = compile_text(text, "policy")
    if policy is None:
        return _error(422, f"the policy has {len(problems)} error(s)", errors=[_problem(p) for p in problems])
    version = await runtime.store.policies.create(text, who.subject, comment[:1000])
    await runtime.store.admin_log.write(who.subject, "policy.create", f"policy/{version.id}", _address(request),
                                        {"comment": version.comment, "version": policy.version})  # fmt: skip
    return JSONResponse(version.as_json(), 201, headers={"Location": f"/api/v1/policies/{version.id}"})


def _problem(problem: PolicyError) -> dict[str, Any]:
    return {"line": problem.line, "key": problem.key, "message": problem.problem}


async def get_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    return JSONResponse((await _requested_version(request, runtime)).as_json())


async def diff_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    version, against = await _requested_version(request, runtime), request.query_params.get("against")
    other_id = _number_or_none(against) if against else await runtime.store.policies.active_id()
    other = await runtime.store.policies.get(other_id if other_id is not None else -1)
    lines = difflib.unified_diff(other.yaml.splitlines(keepends=True), version.yaml.splitlines(keepends=True),
                                 f"v{other.id}", f"v{version.id}")  # fmt: skip
    return JSONResponse({"from": other.id, "to": version.id, "diff": "".join(lines)})


async def activate_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    version = await _requested_version(request, runtime)
    if version.author == who.subject:
        return _error(
            403,
            f"four eyes: version {version.id} was written by {who.subject}; another approver activates it",
        )
    if version.status == ACTIVE:
        return JSONResponse(version.as_json())
    policy, problems = compile_text(version.yaml, f"policy version {version.id}")
    if policy is None:
        return _error(422, "this version does not compile", errors=[_problem(p) for p in problems])
    previous = await runtime.store.policies.active_id()
    active = await runtime.store.policies.activate(version.id, who.subject)
    await runtime.store.admin_log.write(who.subject, "policy.activate", f"policy/{version.id}", _address(request),
                                        {"previous": previous, "rollback": version.status != "draft"})  # fmt: skip
    await runtime.policy.refresh()
    return JSONResponse(active.as_json())


MAX_REPLAY = 10_000


async def test_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    """Replay texts under a version and under the active one, side by side, the changed decisions first."""
    version = await _requested_version(request, runtime)
    try:
        body = await _json_body(request, runtime.settings.max_body_bytes * 8)
        samples = await _samples(body, runtime)
    except ValueError as exc:
        return _error(400, str(exc))
    candidate, problems = compile_text(version.yaml, f"policy version {version.id}", f"v{version.id}")
    if candidate is None:
        return _error(422, "this version does not compile", errors=[_problem(p) for p in problems])
    active = runtime.policy.current
    results: list[dict[str, Any]] = []
    for text, audience in samples:
        now, then = active.decide(text, audience), candidate.decide(text, audience)
        results.append({"text": text, "audience": audience.value, "active": _outcome(now),
                        "candidate": _outcome(then), "changed": _outcome(now) != _outcome(then)})  # fmt: skip
    results.sort(key=lambda r: not r["changed"])
    changed = sum(1 for r in results if r["changed"])
    return JSONResponse({"version": version.id, "active_version": active.version, "candidate_version":
                         candidate.version, "tested": len(results), "changed": changed, "results": results})  # fmt: skip


def _outcome(decision: Any) -> dict[str, Any]:
    return {"action": decision.action, "rules": sorted({f.rule for f in decision.findings})}


async def _samples(body: dict[str, Any], runtime: Runtime) -> list[tuple[str, Audience]]:
    """`{"texts": [{"text", "audience"}]}`, or `{"from_audit": {"since", "limit"}}`: the texts the audit
    kept (what was or would have been posted; a blocked reply keeps none, so it cannot be replayed)."""
    audiences = {a.value: a for a in Audience}
    if isinstance(body.get("texts"), list):
        texts = body["texts"]
        if not 1 <= len(texts) <= MAX_REPLAY:
            raise ValueError(f"texts: 1 to {MAX_REPLAY} items")
        samples = []
        for item in texts:
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('each of texts is {"text": "<reply>", "audience": "public" | "dm"}')
            audience = audiences.get(item.get("audience", "public"))
            if audience is None:
                raise ValueError('audience is "public" or "dm"')
            samples.append((item["text"], audience))
        return samples
    source = body.get("from_audit")
    if not isinstance(source, dict):
        raise ValueError('the body must be {"texts": […]} or {"from_audit": {"since": …, "limit": …}}')
    since = _number(str(source["since"])) if source.get("since") is not None else None
    limit = source.get("limit", 1000)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_REPLAY:
        raise ValueError(f"from_audit.limit: 1 to {MAX_REPLAY}")
    rows = await runtime.store.audit_page("policy", since, None, None, None, limit)
    details = (json.loads(row["detail"]) for row in rows)
    return [(d["posted_text"], audiences.get(d.get("audience"), Audience.PUBLIC))
            for d in details if isinstance(d.get("posted_text"), str)]  # fmt: skip


# -- decisions and the log ----------------------------------------------------------------------------
async def decide(request: Request, runtime: Runtime, who: Principal) -> Response:
    try:
        body = await _json_body(request, runtime.settings.max_body_bytes)
    except ValueError as exc:
        return _error(400, str(exc))
    text, audience = body.get("text"), body.get("audience", "public")
    if not isinstance(text, str) or audience not in {a.value for a in Audience}:
        return _error(400, 'the body must be {"text": "<reply>", "audience": "public" | "dm"}')
    decision = runtime.policy.decide(text, Audience(audience))
    return JSONResponse({**record(decision), "policy_version": decision.policy_version})


AUDIT_FIELDS = ("id", "at", "ticket", "comment", "agent_id", "agent_name", "audience", "action", "rules",
                "policy_version", "text_sha256")  # fmt: skip
#: Rows read per request at most while filtering on what the database cannot (action, rule, agent).
AUDIT_SCAN = 5000


def _audit_entry(row: dict[str, Any]) -> dict[str, Any]:
    detail = json.loads(row["detail"])
    helpdesk, _, rest = str(row["subject"]).partition(":")
    ticket, _, comment = rest.partition(":")
    agent = detail.get("agent") or {}
    rules = sorted({str(f.get("rule")) for f in detail.get("findings", []) if isinstance(f, dict)})
    return {"id": row["id"], "at": row["at"], "ticket": f"{helpdesk}:{ticket}", "comment": comment,
            "agent_id": agent.get("id"), "agent_name": agent.get("name"), "audience": detail.get("audience"),
            "action": detail.get("action"), "rules": rules, "policy_version": row["policy_version"],
            "text_sha256": detail.get("text_sha256")}  # fmt: skip


def _number(value: str | None) -> float | None:
    """A Unix time from the query string (None when absent); `ValueError` for anything else."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"not a Unix time: {value[:20]!r}") from None
    if not abs(number) < 1e12:  # also NaN and infinities
        raise ValueError(f"not a Unix time: {value[:20]!r}")
    return number


async def audit(request: Request, runtime: Runtime, who: Principal) -> Response:
    """Posting decisions, newest first: `since`/`until` (Unix times), `action`, `rule`, `agent`, `version`,
    `limit` (≤ 500), `before` (an id: the next page), `format=csv`. No reply text: only its hash."""
    params = request.query_params
    try:
        since, until = _number(params.get("since")), _number(params.get("until"))
    except ValueError as exc:
        return _error(400, str(exc))
    before = _number_or_none(params.get("before"))
    limit = min(max(_number_or_none(params.get("limit")) or 100, 1), 500)
    rows = await runtime.store.audit_page("policy", since, until, params.get("version"), before, AUDIT_SCAN)
    action, rule, agent = params.get("action"), params.get("rule"), params.get("agent")
    entries = [
        entry for entry in map(_audit_entry, rows)
        if (not action or entry["action"] == action) and (not rule or rule in entry["rules"])
        and (not agent or agent in (entry["agent_id"], entry["agent_name"]))
    ][:limit]  # fmt: skip
    following = entries[-1]["id"] if len(entries) == limit else None
    if params.get("format") == "csv":
        return Response(_csv(entries), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="sav-bridge-audit.csv"'})  # fmt: skip
    return JSONResponse({"entries": entries, "next_before": following})


def _csv(entries: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_FIELDS)
    for entry in entries:
        row = [";".join(entry[f]) if f == "rules" else entry[f] for f in AUDIT_FIELDS]
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@" else v for v in row])
    return out.getvalue()


# -- the approval queue ---------------------------------------------------------------------------------
async def list_approvals(request: Request, runtime: Runtime, who: Principal) -> Response:
    status = request.query_params.get("status", PENDING)
    if status not in (PENDING, APPROVED, REJECTED, "all"):
        return _error(400, "status is pending, approved, rejected or all")
    rows = await runtime.store.approvals.list(None if status == "all" else status)
    overdue = runtime.settings.console.approval_timeout_hours * 3600
    now = runtime.clock()
    return JSONResponse({"approvals": [approval_json(row, overdue, now) for row in rows]})


async def approve(request: Request, runtime: Runtime, who: Principal) -> Response:
    return await _decide(request, runtime, who, APPROVED)


async def reject(request: Request, runtime: Runtime, who: Principal) -> Response:
    return await _decide(request, runtime, who, REJECTED)


async def _decide(request: Request, runtime: Runtime, who: Principal, status: str) -> Response:
    approval_id = _path_id(request)
    row = await runtime.store.approvals.get(approval_id) if approval_id is not None else None
    if row is None:
        return _error(404, "no held reply has this id")
    try:
        body = await _json_body(request, 64 * 1024, empty_ok=True)
    except ValueError as exc:
        return _error(400, str(exc))
    comment = body.get("comment", "")
    if not isinstance(comment, str) or (status == REJECTED and not comment.strip()):
        return _error(400, 'a rejection says why: {"comment": "<why, for the agent>"}')
    agent = json.loads(row["agent"])
    if who.subject in {str(agent.get(k)) for k in ("id", "email", "name") if agent.get(k)}:
        return _error(403, f"four eyes: {who.subject} wrote this reply; another approver decides it")
    ticket = TicketRef(row["helpdesk"], row["ticket_id"])
    conv = await runtime.store.conversation_for_ticket(ticket)
    if conv is None:
        return _error(409, "the ticket is no longer linked to an X conversation")

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
        return _error(409, "this reply was already decided")
    action = "approval.approve" if status == APPROVED else "approval.reject"
    await runtime.store.admin_log.write(
        who.subject, action, f"approval/{row['id']}", _address(request), {"comment": comment[:1000]}
    )
    runtime.outbox.wake()
    return JSONResponse(approval_json(decided))


async def admin_log(request: Request, runtime: Runtime, who: Principal) -> Response:
    params = request.query_params
    limit = min(max(_number_or_none(params.get("limit")) or 100, 1), 500)
    entries = await runtime.store.admin_log.read(limit, _number_or_none(params.get("before")))
    return JSONResponse({"entries": entries})


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


ROUTES = [
    Route("/api/v1/openapi.json", openapi, methods=["GET"]),
    Route("/api/v1/policies", _guarded("viewer", list_policies), methods=["GET"]),
    Route("/api/v1/policies", _guarded("editor", create_policy), methods=["POST"]),
    Route("/api/v1/policies/{id}", _guarded("viewer", get_policy), methods=["GET"]),
    Route("/api/v1/policies/{id}/diff", _guarded("viewer", diff_policy), methods=["GET"]),
    Route("/api/v1/policies/{id}/activate", _guarded("approver", activate_policy), methods=["POST"]),
    Route("/api/v1/policies/{id}/test", _guarded("editor", test_policy), methods=["POST"]),
    Route("/api/v1/decide", _guarded("viewer", decide), methods=["POST"]),
    Route("/api/v1/admin-log", _guarded("viewer", admin_log), methods=["GET"]),
    Route("/api/v1/audit", _guarded("viewer", audit), methods=["GET"]),
    Route("/api/v1/approvals", _guarded("viewer", list_approvals), methods=["GET"]),
    Route("/api/v1/approvals/{id}/approve", _guarded("approver", approve), methods=["POST"]),
    Route("/api/v1/approvals/{id}/reject", _guarded("approver", reject), methods=["POST"]),
]
