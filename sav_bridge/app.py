"""The Starlette app: webhooks in, health, readiness and metrics. No downstream call happens here:
a webhook is authenticated, stored with its jobs in one transaction, then answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sav_bridge import heap
from sav_bridge.channels.x.connect import CALLBACK_PATH, ConnectFailed
from sav_bridge.channels.x.events import CHANNEL, parse_body
from sav_bridge.channels.x.health import CRC_FACT
from sav_bridge.channels.x.signing import SIGNATURE_HEADER, crc_response, verify_signature
from sav_bridge.config import Settings
from sav_bridge.console.api import ROUTES as console_routes
from sav_bridge.console.auth import TokenVerifier
from sav_bridge.console.forms import ROUTES as console_forms
from sav_bridge.console.oidc import ROUTES as oidc_routes
from sav_bridge.console.pages import ROUTES as console_pages
from sav_bridge.console.provider import IdentityProvider
from sav_bridge.console.sandbox import sandbox_jwt
from sav_bridge.console.session import SessionSealer, session_key
from sav_bridge.edge import (
    ConcurrencyLimit,
    metrics_without_store,
    read_body,
    store_failure_handlers,
    store_failures,
)
from sav_bridge.errors import (
    DeliveryError,
    MalformedRequest,
    UnsupportedMediaType,
    WebhookRejected,
)
from sav_bridge.flows import accept_helpdesk_notice, accept_x_body
from sav_bridge.helpdesks import api_usage, verify_webhook, webhook_answer
from sav_bridge.logs import AccessLog
from sav_bridge.ops import gauges as operator_gauges
from sav_bridge.ops.api import ROUTES as operator_routes
from sav_bridge.runtime import Runtime
from sav_bridge.store import open_store

log = logging.getLogger(__name__)

#: X's CRC tokens are short; anything much longer is not X.
MAX_CRC_TOKEN = 512
CRC_RECORD_INTERVAL = 60.0
#: How long /readyz waits for the database (an orchestrator's probe gives up after a second or a few).
READY_TIMEOUT = 2.0
JSON_TYPES = frozenset({"application/json", "text/json"})
#: The PostgreSQL pool of an HTTP process whose workers run apart: /readyz, /metrics, the console, the
#: health checks (inbound batches have a connection of their own).
HTTP_POOL_SIZE = 4


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def x_crc(request: Request) -> Response:
    runtime = _runtime(request)
    token = request.query_params.get("crc_token")
    if not token:
        raise MalformedRequest("crc_token query parameter is required")
    if len(token) > MAX_CRC_TOKEN:
        raise MalformedRequest(f"crc_token is longer than {MAX_CRC_TOKEN} characters")
    answer = crc_response(runtime.settings.x.consumer_secret.reveal(), token)
    # Answered from memory first (X waits 10 s at most); `x status` then shows when a CRC check was
    # last answered. Anyone may send one (X does not sign them), so the fact is a hint, written at most
    # once a minute per process: unsigned requests cannot make the database busy.
    now = runtime.clock()
    if now - request.app.state.crc_recorded_at < CRC_RECORD_INTERVAL:
        return JSONResponse(answer)
    request.app.state.crc_recorded_at = now
    return JSONResponse(answer, background=BackgroundTask(_crc_answered, runtime))


async def _crc_answered(runtime: Runtime) -> None:
    try:
        await runtime.store.state.put(CRC_FACT, {"at": runtime.clock()})
    except Exception as exc:
        log.warning("could not record the CRC check: %s", type(exc).__name__)


def decode_json(body: bytes, content_type: str | None) -> Any:
    """The JSON document of a webhook body; `MalformedRequest` for anything else, however odd."""
    if content_type and content_type.split(";")[0].strip().lower() not in JSON_TYPES:
        raise UnsupportedMediaType(f"content-type must be application/json, not {content_type[:60]!r}")
    try:
        return json.loads(body)
    except RecursionError:
        raise MalformedRequest("JSON nested too deeply") from None
    except ValueError:
        raise MalformedRequest("body is not valid JSON") from None


async def x_webhook(request: Request) -> Response:
    runtime = _runtime(request)
    body = await read_body(request, runtime.settings.max_body_bytes)
    verify_signature(runtime.settings.x.consumer_secret.reveal(), body, request.headers.get(SIGNATURE_HEADER))
    try:
        parsed = parse_body(
            decode_json(body, request.headers.get("content-type")), runtime.settings.x.account_id
        )
    except (MalformedRequest, UnsupportedMediaType) as exc:
        await runtime.store.quarantine(CHANNEL, body, exc.reason)
        raise type(exc)(f"{exc.reason}; the body was kept in quarantine") from None
    if parsed.problems:
        reason = "; ".join(parsed.problems)[:2000]
        await runtime.store.quarantine(CHANNEL, body, reason)
        if not parsed.usable:
            raise MalformedRequest(f"{reason}; the body was kept in quarantine")
    result = await accept_x_body(runtime.store, runtime.metrics, parsed)
    if result.accepted:
        runtime.outbox.wake()
    answer = result.as_json()
    if parsed.problems:
        answer["quarantined"] = parsed.problems
    return JSONResponse(answer)


async def helpdesk_webhook(request: Request) -> Response:
    runtime = _runtime(request)
    name = request.path_params["helpdesk"]
    if name != runtime.helpdesk.name:
        return JSONResponse({"error": f"this gateway serves {runtime.helpdesk.name}, not {name}"}, 404)
    body = await read_body(request, runtime.settings.max_body_bytes)
    verify_webhook(runtime.helpdesk, request.headers, request.query_params, body, runtime.clock())
    try:
        notice = runtime.helpdesk.parse_webhook(request.headers, body)
    except MalformedRequest as exc:
        await runtime.store.quarantine(name, body, exc.reason)
        raise MalformedRequest(f"{exc.reason}; the body was kept in quarantine") from None
    accepted = await accept_helpdesk_notice(runtime.store, runtime.metrics, name, notice)
    if accepted:
        runtime.outbox.wake()
    # The events are committed: only now may the plugin acknowledge them to the vendor.
    answer = webhook_answer(runtime.helpdesk, notice, accepted)
    return Response(answer.body, answer.status, media_type=answer.media_type)


async def x_oauth_callback(request: Request) -> Response:
    """Where X sends the brand account's browser after it approved the app (`sav-bridge x connect`)."""
    connector = runtime.access.connector if (runtime := _runtime(request)).access else None
    if connector is None:
        return PlainTextResponse("This gateway does not use OAuth 2.0 (x.auth is oauth1).", 404)
    params = request.query_params
    if not params.get("code") and not params.get("error"):
        return PlainTextResponse("X is not connected: X's redirect carries neither a code nor an error.", 400)
    try:
        await connector.complete(params.get("state", ""), params.get("code", ""), params.get("error"))
    except (ConnectFailed, DeliveryError) as exc:
        log.warning("X authorisation not completed: %s", exc)
        return PlainTextResponse(f"X is not connected: {exc}", 400)
    return PlainTextResponse(
        "X is connected: sav-bridge stored the brand account's tokens. You can close this tab."
    )


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime = _runtime(request)
    try:
        # Bounded: a database that hangs (a partition, a pool waiting for a connection) is not ready either.
        await asyncio.wait_for(runtime.store.ping(), READY_TIMEOUT)
    except Exception as exc:
        log.warning("store not reachable: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "store": type(exc).__name__}, 503)
    # Alerts (the health task's last evaluation) are details for people: they do not make us unready.
    alerts = [alert.as_json() for alert in runtime.health.active.values()] if runtime.health else []
    return JSONResponse({"status": "ready", "policy_version": runtime.policy.version, "alerts": alerts})


async def metrics(request: Request) -> Response:
    runtime = _runtime(request)
    usage = {runtime.helpdesk.name: api_usage(runtime.helpdesk)}
    runtime.metrics.policy.info({"version": runtime.policy.version, "source": runtime.policy.source})
    overdue = runtime.clock() - runtime.settings.console.approval_timeout_hours * 3600
    runtime.metrics.approvals_overdue.set(await runtime.store.approvals.pending_since(overdue))
    await operator_gauges.refresh(runtime.metrics, runtime.store)
    runtime.metrics.show_destinations(await runtime.store.destinations.state(), runtime.clock())
    body = runtime.metrics.render(await runtime.store.jobs_by_state(), usage)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")


async def rejected(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, WebhookRejected):
        raise exc
    runtime = getattr(request.app.state, "runtime", None)
    source = (
        request.path_params.get("helpdesk", CHANNEL) if request.url.path.startswith("/webhooks") else "other"
    )
    if runtime is not None:
        runtime.metrics.webhooks_rejected.labels(source, str(exc.status_code)).inc()
    log.warning(
        "rejected %s %s: %s",
        request.method,
        request.url.path,
        exc.reason,
        extra={"request_id": getattr(request.state, "request_id", None)},
    )
    return JSONResponse({"error": exc.reason}, exc.status_code)


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    worker_command: Sequence[str] | None = None,
    serving: bool = False,
    **runtime_options: Any,
) -> Starlette:
    """The gateway. Given a `runtime`, the caller owns it; otherwise the app starts one with workers, in
    the process `worker_command` starts when given (`sav_bridge.worker_process`), else on this event loop.
    `serving`: the app is this process's server (`serve`), whose start-up objects live as long as it."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if runtime is not None:
            _serve(app, runtime)
            yield
            return
        if worker_command is not None and "store" not in runtime_options:
            # The workers' queries run in their own process: this one needs few connections (PostgreSQL).
            runtime_options["store"] = await open_store(settings.database_url, pool_size=HTTP_POOL_SIZE)
        owned = await Runtime.start(settings, **runtime_options)
        if worker_command is not None:
            from sav_bridge.worker_process import WorkerProcess

            owned.apart = WorkerProcess(worker_command)
            owned.start_workers("http")
        else:
            owned.start_workers()
        _serve(app, owned)
        if serving:
            heap.settle()
            heap.give_back()  # what building the policy freed: ~23 MB of resident memory (sav_bridge/heap.py)
        try:
            yield
        finally:
            await owned.close()

    failures = store_failures(settings.database_url)
    app = Starlette(
        routes=[
            Route("/webhooks/x", x_crc, methods=["GET"]),
            Route("/webhooks/x", x_webhook, methods=["POST"]),
            Route("/webhooks/{helpdesk}", helpdesk_webhook, methods=["POST"]),
            Route(CALLBACK_PATH, x_oauth_callback, methods=["GET"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_without_store(metrics, failures)),
            *console_routes,
            *operator_routes,
            *console_pages,
            *console_forms,
            *oidc_routes,
        ],
        exception_handlers={WebhookRejected: rejected, **store_failure_handlers(failures)},
        middleware=[
            Middleware(AccessLog),
            Middleware(ConcurrencyLimit, limit=settings.max_concurrent_requests),
        ],
        lifespan=lifespan,
    )
    app.state.crc_recorded_at = float("-inf")
    if runtime is not None:
        _serve(app, runtime)
    return app


def _serve(app: Starlette, runtime: Runtime) -> None:
    """Hand the app its runtime, the compliance API its token check when `console.jwt` is set, and the
    console its identity provider when `console.oidc` is."""
    app.state.runtime = runtime
    console = runtime.settings.console
    trusted = console.jwt or sandbox_jwt(runtime.settings)
    if trusted is not None:
        app.state.token_verifier = TokenVerifier(trusted, console.roles, runtime.http, runtime.clock)
    key = session_key(runtime.settings)
    if key is not None:
        app.state.session_sealer = SessionSealer(key, console.session_hours, runtime.clock)
    if console.oidc is not None:
        admit = runtime.egress.admit if runtime.egress else None
        app.state.oidc_provider = IdentityProvider(
            console.oidc, console.jwt, console.roles, runtime.http, runtime.clock, admit
        )
