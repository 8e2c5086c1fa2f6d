"""`/api/v1/`: policy versions (list, create, read, diff, activate), decisions, the administration log.

Every route but the OpenAPI document needs the identity provider's token (401 without one, 403 without
the role: viewer reads, editor writes drafts, approver activates); nobody activates a version they wrote
(four eyes). Every change is written to the administration log with who, what, when and the caller's
address. Without `console.jwt` the API is off: every route answers 404 saying how to turn it on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sav_bridge.console import audit as audit_log
from sav_bridge.console import operations
from sav_bridge.console.audit import count_or_none, unix_time
from sav_bridge.console.auth import Forbidden, NotAuthenticated, Principal, TokenVerifier
from sav_bridge.console.openapi import OPENAPI
from sav_bridge.console.requests import client_address
from sav_bridge.edge import read_body
from sav_bridge.model import Audience
from sav_bridge.policy.console import record
from sav_bridge.runtime import Runtime
from sav_bridge.store.approvals import APPROVED, PENDING, REJECTED, approval_json
from sav_bridge.store.policies import PolicyVersion, UnknownVersion

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
        except operations.Refused as refused:
            more = {"errors": refused.errors} if refused.errors else {}
            return _error(refused.status, refused.message, **more)

    return endpoint


async def _json_body(request: Request, limit: int, empty_ok: bool = False) -> dict[str, Any]:
    """The JSON object a request carries, read no further than `limit` bytes (`PayloadTooLarge`, a 413,
    past it); `ValueError` for anything but a JSON object."""
    body = await read_body(request, limit)
    if empty_ok and not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _path_id(request: Request) -> int | None:
    """The `{id}` of the path (a policy version or a held reply), None when it is not one."""
    return count_or_none(request.path_params.get("id", ""))


async def _requested_version(request: Request, runtime: Runtime) -> PolicyVersion:
    """The version the path names; `UnknownVersion` (a 404, from `_guarded`) for any other id."""
    version_id = _path_id(request)
    return await runtime.store.policies.get(version_id if version_id is not None else -1)


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
    version = await operations.create_version(runtime, who, text, comment, client_address(request))
    return JSONResponse(version.as_json(), 201, headers={"Location": f"/api/v1/policies/{version.id}"})


async def get_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    return JSONResponse((await _requested_version(request, runtime)).as_json())


async def diff_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    version, against = await _requested_version(request, runtime), request.query_params.get("against")
    other_id = count_or_none(against) if against else await runtime.store.policies.active_id()
    other = await runtime.store.policies.get(other_id if other_id is not None else -1)
    return JSONResponse({"from": other.id, "to": version.id, "diff": operations.diff(other, version)})


async def activate_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    version = await _requested_version(request, runtime)
    active = await operations.activate_version(runtime, who, version, client_address(request))
    return JSONResponse(active.as_json())


async def test_policy(request: Request, runtime: Runtime, who: Principal) -> Response:
    """Replay texts under a version and under the active one, side by side, the changed decisions first."""
    version = await _requested_version(request, runtime)
    try:
        body = await _json_body(request, runtime.settings.max_body_bytes * 8)
        samples = await _samples(body, runtime)
    except ValueError as exc:
        return _error(400, str(exc))
    return JSONResponse((await operations.replay_all(runtime, version, samples)).as_json())


async def _samples(body: dict[str, Any], runtime: Runtime) -> list[operations.Sample]:
    if "texts" in body:
        return operations.given_samples(body["texts"])
    source = body.get("from_audit")
    if not isinstance(source, dict):
        raise ValueError('the body must be {"texts": […]} or {"from_audit": {"since": …, "limit": …}}')
    since = unix_time(str(source["since"])) if source.get("since") is not None else None
    limit = source.get("limit", 1000)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ValueError(f"from_audit.limit: 1 to {operations.MAX_REPLAY}")
    return await operations.audited_samples(runtime, since, limit)


# -- decisions and the log ----------------------------------------------------------------------------
async def decide(request: Request, runtime: Runtime, who: Principal) -> Response:
    try:
        body = await _json_body(request, runtime.settings.max_body_bytes)
    except ValueError as exc:
        return _error(400, str(exc))
    text, audience = body.get("text"), body.get("audience", "public")
    if not isinstance(text, str) or audience not in [a.value for a in Audience]:  # a list is no key
        return _error(400, 'the body must be {"text": "<reply>", "audience": "public" | "dm"}')
    decision = (await runtime.policy.ready()).decide(text, Audience(audience))
    return JSONResponse({**record(decision), "policy_version": decision.policy_version})


async def audit(request: Request, runtime: Runtime, who: Principal) -> Response:
    """Posting decisions, newest first (`audit.read` says which filters); `format=csv` exports."""
    try:
        if request.query_params.get("format") == "csv":
            entries = await audit_log.read_all(runtime, request.query_params)
            return audit_log.csv_download(entries)
        page = await audit_log.read(runtime, request.query_params)
    except ValueError as exc:
        return _error(400, str(exc))
    return JSONResponse({"entries": page.entries, "next_before": page.next_before})


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
    if await runtime.store.approvals.get(_path_id(request) or -1) is None:
        return _error(404, "no held reply has this id")
    try:
        body = await _json_body(request, 64 * 1024, empty_ok=True)
    except ValueError as exc:
        return _error(400, str(exc))
    comment = body.get("comment", "")
    if not isinstance(comment, str):
        return _error(400, 'the comment is text: {"comment": "<why, for the agent>"}')
    decided = await operations.decide_held(
        runtime, who, _path_id(request), status, comment, client_address(request)
    )
    return JSONResponse(approval_json(decided))


async def admin_log(request: Request, runtime: Runtime, who: Principal) -> Response:
    params = request.query_params
    limit = min(max(count_or_none(params.get("limit")) or 100, 1), 500)
    entries = await runtime.store.admin_log.read(limit, count_or_none(params.get("before")))
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
