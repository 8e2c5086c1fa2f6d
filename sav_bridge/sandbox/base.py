"""What every fake vendor shares: routing, auth, contract checks and injected faults.

A route answers at once, or with a coroutine when the vendor has to call the gateway back before it
answers (X's CRC check on webhook registration); `respond()` passes that on to an `httpx.MockTransport`
serving an async client, and `handle()` is the synchronous form for routes that answer at once.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Coroutine, MutableSequence
from typing import Any

import httpx

from sav_bridge.sandbox.contracts import OpenApiContract, Violation
from sav_bridge.sandbox.faults import FaultPlan

Answer = httpx.Response | Coroutine[Any, Any, httpx.Response]
Route = Callable[[httpx.Request, re.Match[str], Any], Answer]


class FakeVendor:
    """An in-process vendor API for `httpx.MockTransport`; subclasses add routes with `route()`."""

    name = "vendor"
    #: The host names (`netloc`) the fake answers for, where the sandbox routes a request by its host.
    hosts: tuple[str, ...] = ()

    def __init__(self, contracts: list[OpenApiContract] | None = None) -> None:
        self.contracts = contracts or []
        self.faults = FaultPlan()
        self.violations: list[Violation] = []
        #: Every request received, oldest first (the last `keep_last` of them in a long-running sandbox).
        self.requests: MutableSequence[httpx.Request] = []
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []

    def route(self, method: str, pattern: str, handler: Route) -> None:
        self._routes.append((method, re.compile(pattern + "$"), handler))

    def authorised(self, request: httpx.Request) -> bool:
        return True

    def keep_last(self, count: int) -> None:
        """Record only the last `count` requests: `serve` with `sandbox: true` runs for days, and a
        request is kilobytes; tests and the demo keep them all."""
        self.requests = deque(self.requests, maxlen=count)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """The synchronous `httpx.MockTransport` handler, for routes that answer at once."""
        answer = self.respond(request)
        if not isinstance(answer, httpx.Response):
            answer.close()
            raise TypeError(
                f"{request.method} {request.url.path} calls the gateway back: use an async client"
            )
        return answer

    def respond(self, request: httpx.Request) -> Answer:
        """The `httpx.MockTransport` handler for async clients: a response, or a coroutine making one."""
        self.requests.append(request)
        fault = self.faults.take(request)
        if fault and not fault.applied:
            return fault.response(request)
        answer = self._dispatch(request)
        if fault:
            if isinstance(answer, httpx.Response):
                return fault.response(request)
            return _then(answer, lambda: fault.response(request))
        return answer

    def _dispatch(self, request: httpx.Request) -> Answer:
        if not self.authorised(request):
            return self.error(401, "Couldn't authenticate you")
        body: Any = None
        # A file upload (a helpdesk's upload endpoint) is raw bytes of its own type: routes read it.
        declared = request.headers.get("content-type", "application/json")
        if request.content and "json" in declared:
            try:
                body = json.loads(request.content)
            except ValueError:
                return self.error(400, "body is not JSON")
        for method, pattern, handler in self._routes:
            match = pattern.match(request.url.path)
            if match and method == request.method:
                problems = self._check(request, body)
                if problems:
                    self.violations += problems
                    return self.error(400, "; ".join(p.problem for p in problems))
                return handler(request, match, body)
        return self.error(404, f"no route {request.method} {request.url.path}")

    def _check(self, request: httpx.Request, body: Any) -> list[Violation]:
        for contract in self.contracts:
            if contract.operation(request.method, request.url.path):
                return contract.check(
                    request.method, request.url.path, body, request.url.params.multi_items()
                )
        return []

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json={"error": message}, headers=headers)

    def calls(self, method: str, path_pattern: str) -> list[httpx.Request]:
        rx = re.compile(path_pattern + "$")
        return [r for r in self.requests if r.method == method and rx.match(r.url.path)]


async def _then(
    answer: Coroutine[Any, Any, httpx.Response], replace: Callable[[], httpx.Response]
) -> httpx.Response:
    """Let the route act (it was applied), then answer with the injected fault instead."""
    await answer
    return replace()
