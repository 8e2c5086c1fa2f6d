"""What the gateway does at its HTTP edge, before any handler's own logic: bounded request bodies and a
bounded number of requests at once.

Every inbound body (webhooks, the console's forms and JSON API) is read through `read_body`, the one
place that enforces a route's limit: a declared `Content-Length` over the limit is refused (413) before
a byte of the body is read, and a body without one (chunked) is cut off and refused as soon as it passes
the limit, so no request is ever buffered whole past its limit and nothing is stored for it.

`ConcurrencyLimit` serves at most `server.max_concurrent_requests` requests at once and answers any
request past that at once with 503 and `Retry-After`, instead of queueing it without bound: X and the
helpdesks retry a webhook that was not acknowledged, and a queue only turns a burst into timeouts.
Health, readiness and metrics are never turned away, so an orchestrator does not restart a replica
for being busy.

While the database cannot commit (down, unreachable, read-only after a failover, a full disk), a request
is answered 503 with `Retry-After` (`store_unavailable`), never 2xx: a webhook is acknowledged only
once stored, so its sender keeps it and retries. Nothing is kept in memory meanwhile; every request
tries the database again, so the gateway recovers by itself as soon as it is back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sav_bridge.errors import PayloadTooLarge, Unavailable
from sav_bridge.store.database import driver_failures

log = logging.getLogger(__name__)

#: Paths answered whatever the load: what orchestrators and Prometheus poll.
ALWAYS_SERVED = frozenset({"/healthz", "/readyz", "/metrics"})
#: What a request turned away is told to wait, in seconds (a burst is over in about that time).
BUSY_RETRY_AFTER = 1
#: What a request is told to wait while the database cannot commit (a failover takes seconds).
STORE_RETRY_AFTER = 5


def store_failures(database_url: str) -> tuple[type[Exception], ...]:
    """What the store raises for a batch it could not commit, and what the driver of the database at
    `database_url` raises when it cannot be reached or written: a request that meets one is answered 503,
    to be retried."""
    return (Unavailable, *driver_failures(database_url))


def size_text(limit: int) -> str:
    """A byte count as people write limits: '1 MiB', '512 KiB', '1000 bytes'."""
    for unit, name in ((1024 * 1024, "MiB"), (1024, "KiB")):
        if limit >= unit and limit % unit == 0:
            return f"{limit // unit} {name}"
    return f"{limit} bytes"


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body of `request`, never more than `limit` bytes of it; `PayloadTooLarge` (413) otherwise.

    A declared length is believed only when it is too large: a shorter one than what arrives changes
    nothing, since the bytes are counted as they come."""
    refusal = f"the body is over the {size_text(limit)} limit"
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(refusal)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(refusal)
        chunks.append(chunk)
    return b"".join(chunks)


class ConcurrencyLimit:
    """ASGI middleware: at most `limit` requests in flight; 503 with `Retry-After` past it."""

    def __init__(self, app: ASGIApp, limit: int, always_served: frozenset[str] = ALWAYS_SERVED) -> None:
        self.app = app
        self.limit = limit
        self.always_served = always_served
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.always_served:
            await self.app(scope, receive, send)
            return
        metrics = _metrics(scope)
        if self.in_flight >= self.limit:
            if metrics is not None:
                metrics.requests_shed.inc()
            await _answer(
                send, 503, f"busy: {self.limit} requests in flight; retry shortly", BUSY_RETRY_AFTER
            )
            return
        self.in_flight += 1
        if metrics is not None:
            metrics.requests_in_flight.set(self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            if metrics is not None:
                metrics.requests_in_flight.set(self.in_flight)


def _metrics(scope: Scope) -> Any:
    """The app's `Metrics` once its runtime is served (None before, in the lifespan's first moments)."""
    runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
    return getattr(runtime, "metrics", None)


async def _answer(send: Send, status: int, error: str, retry_after: int) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """The answer to a request the database could not serve: 503 with `Retry-After`, never 2xx. Logged
    with the error's type only (a driver's message may quote the query's values)."""
    path = request.url.path
    source = request.path_params.get("helpdesk", "x") if path.startswith("/webhooks/") else "other"
    metrics = _metrics(request.scope)
    if metrics is not None:
        metrics.store_unavailable.labels(source).inc()
    log.warning("database unavailable: %s %s answered 503 (%s)", request.method, path, type(exc).__name__)
    return JSONResponse(
        {"error": "the database cannot store this now; nothing was kept, retry later"},
        503,
        headers={"Retry-After": str(STORE_RETRY_AFTER)},
    )


def store_failure_handlers(failures: tuple[type[Exception], ...]) -> dict[Any, Any]:
    """The app's exception handlers for `store_failures`."""
    return {failure: store_unavailable for failure in failures}


def metrics_without_store(
    endpoint: Callable[[Request], Awaitable[Response]], failures: tuple[type[Exception], ...]
) -> Callable[[Request], Awaitable[Response]]:
    """`/metrics` that still answers while the database cannot be read: what this process counted (the
    requests answered 503 first of all), without the figures read from the database (the queue)."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except failures as exc:
            log.warning("metrics without the database's figures: %s", type(exc).__name__)
            exposition = request.app.state.runtime.metrics.exposition()
            return PlainTextResponse(exposition, media_type="text/plain; version=0.0.4")

    return answer
