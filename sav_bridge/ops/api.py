"""`/api/v1/jobs` and `/api/v1/quarantine`: the operator tools as JSON, for the console's later use.

Behind the compliance API's bearer tokens (`console.auth`), with the `operator` role, which is apart
from the compliance roles: an approver is not an operator, nor the other way round. Bearer tokens are
not sent by browsers on their own, so these POSTs need no CSRF token. Answers: 200 with the job or body
as it is now and a `message`; 400 for a filter or body that is not one; 404 for no such id; 409 for a
state that does not allow the action (the message says what does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sav_bridge.console.api import _guarded, _json_body
from sav_bridge.console.audit import count_or_none
from sav_bridge.console.auth import OPERATOR, Principal
from sav_bridge.console.requests import client_address
from sav_bridge.ops.jobs import JobOps, Refused, job_filter, plain
from sav_bridge.ops.quarantine import QuarantineOps
from sav_bridge.ops.scrub import Scrubber
from sav_bridge.runtime import Runtime
from sav_bridge.store.job_admin import Change

MAX_BODY = 16 * 1024
Handler = Callable[[Request, Runtime, Principal], Awaitable[Response]]


def _answering(handler: Handler) -> Handler:
    """`handler` with a refusal turned into its status and message."""

    async def answer(request: Request, runtime: Runtime, who: Principal) -> Response:
        try:
            return await handler(request, runtime, who)
        except Refused as refused:
            return JSONResponse({"error": refused.message}, refused.status)

    return answer


def _route(path: str, handler: Handler, method: str) -> Route:
    return Route(path, _guarded(OPERATOR, _answering(handler)), methods=[method])


def _jobs(runtime: Runtime) -> JobOps:
    return JobOps(runtime.store, Scrubber(runtime.settings.secrets()))


def _quarantine(runtime: Runtime) -> QuarantineOps:
    scrub = Scrubber(runtime.settings.secrets())
    return QuarantineOps(
        runtime.store, runtime.metrics, scrub, runtime.settings.x.account_id, runtime.helpdesk
    )


def _id(request: Request, what: str) -> int:
    found = count_or_none(request.path_params.get("id", ""))
    if found is None:
        raise Refused(404, f"no {what} has this id")
    return found


def _limit(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    limit = count_or_none(raw)
    if limit is None:
        raise Refused(400, "limit is a whole number from 1 to 1000")
    return limit


async def _body(request: Request) -> dict[str, Any]:
    try:
        return await _json_body(request, MAX_BODY, empty_ok=True)
    except ValueError as exc:
        raise Refused(400, str(exc)) from None


def _change(request: Request, who: Principal, reason: str = "") -> Change:
    return Change(who.subject, client_address(request), reason)


# -- jobs ----------------------------------------------------------------------------------------------
async def list_jobs(request: Request, runtime: Runtime, who: Principal) -> Response:
    q = request.query_params
    where = job_filter(q.get("state"), q.get("kind"), q.get("conversation"), q.get("older_than"),
                       _limit(q.get("limit")), runtime.clock())  # fmt: skip
    jobs, more = await _jobs(runtime).list(where)
    return JSONResponse({"jobs": jobs, "more": more})


async def show_job(request: Request, runtime: Runtime, who: Principal) -> Response:
    return JSONResponse(await _jobs(runtime).show(_id(request, "job")))


async def retry_job(request: Request, runtime: Runtime, who: Principal) -> Response:
    job_id = _id(request, "job")
    await _body(request)
    done = await _jobs(runtime).retry(job_id, _change(request, who))
    runtime.outbox.wake()
    return JSONResponse(done)


async def replay_job(request: Request, runtime: Runtime, who: Principal) -> Response:
    job_id = _id(request, "job")
    force = (await _body(request)).get("force", False)
    if not isinstance(force, bool):
        raise Refused(400, 'force is true or false: {"force": true} re-sends a done job')
    done = await _jobs(runtime).replay(job_id, _change(request, who), force)
    runtime.outbox.wake()
    return JSONResponse(done)


async def skip_job(request: Request, runtime: Runtime, who: Principal) -> Response:
    job_id = _id(request, "job")
    reason = (await _body(request)).get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Refused(400, 'skipping a job needs a reason: {"reason": "<why, for the administration log>"}')
    return JSONResponse(await _jobs(runtime).skip(job_id, _change(request, who, reason.strip()[:2000])))


# -- quarantine ----------------------------------------------------------------------------------------
async def list_quarantine(request: Request, runtime: Runtime, who: Principal) -> Response:
    limit = _limit(request.query_params.get("limit"))
    limit = 50 if limit is None else limit
    if not 1 <= limit <= 1000:
        raise Refused(400, "limit is a whole number from 1 to 1000")
    source = plain("source", request.query_params.get("source"))
    rows, more = await _quarantine(runtime).list(source, limit)
    return JSONResponse({"quarantine": rows, "more": more})


async def show_quarantined(request: Request, runtime: Runtime, who: Principal) -> Response:
    return JSONResponse(await _quarantine(runtime).show(_id(request, "quarantined body")))


async def replay_quarantined(request: Request, runtime: Runtime, who: Principal) -> Response:
    row_id = _id(request, "quarantined body")
    await _body(request)
    done = await _quarantine(runtime).replay(row_id, _change(request, who))
    if done["accepted"]:
        runtime.outbox.wake()
    return JSONResponse(done)


ROUTES = [
    _route("/api/v1/jobs", list_jobs, "GET"),
    _route("/api/v1/jobs/{id}", show_job, "GET"),
    _route("/api/v1/jobs/{id}/retry", retry_job, "POST"),
    _route("/api/v1/jobs/{id}/replay", replay_job, "POST"),
    _route("/api/v1/jobs/{id}/skip", skip_job, "POST"),
    _route("/api/v1/quarantine", list_quarantine, "GET"),
    _route("/api/v1/quarantine/{id}", show_quarantined, "GET"),
    _route("/api/v1/quarantine/{id}/replay", replay_quarantined, "POST"),
]
