"""Failure injection for the fakes: the vendor's 429s, 5xx, timeouts and ambiguous failures."""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class Fault:
    """Make the next `times` matching requests fail.

    `applied=True` is the nasty case: the vendor does the work, then the answer is lost (5xx or
    timeout), so a client that retries blindly would do it twice. A failure takes time on the plan's
    clock, as it would on the client's: `elapsed` seconds, or by default the client's timeout for a
    timeout (the work, if applied, is done at the start) and none for anything else.
    """

    method: str
    path: str
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": "injected failure"}'
    timeout: bool = False
    #: The connection is refused: the request never reaches the vendor.
    connect_error: bool = False
    applied: bool = False
    times: int = 1
    #: Matching requests let through untouched before this fault strikes (the second post of a thread).
    after: int = 0
    #: Seconds the failing request takes before the client sees its failure (None: see above).
    elapsed: float | None = None
    #: The plan that handed it out, whose clock its time passes on.
    plan: FaultPlan | None = field(default=None, repr=False, compare=False)

    def matches(self, request: httpx.Request) -> bool:
        return request.method == self.method and re.fullmatch(self.path, request.url.path) is not None

    def response(self, request: httpx.Request) -> httpx.Response:
        if self.plan is not None:
            self.plan.spend(self)
        if self.connect_error:
            raise httpx.ConnectError("injected connection refusal", request=request)
        if self.timeout:
            raise httpx.ReadTimeout("injected timeout", request=request)
        return httpx.Response(self.status, headers=self.headers, text=self.body, request=request)


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        #: Moves the fake's clock on (tests give their clock's `advance`); None: failures take no time.
        self.pass_time: Callable[[float], None] | None = None
        #: How long a timeout takes: the client's own timeout (`x.timeout_seconds` for X).
        self.timeout_seconds = 10.0

    def add(self, fault: Fault) -> Fault:
        fault.plan = self
        self._faults.append(fault)
        return fault

    def spend(self, fault: Fault) -> None:
        """Let the time `fault` takes pass, before its failure reaches the client."""
        seconds = (
            fault.elapsed if fault.elapsed is not None else self.timeout_seconds if fault.timeout else 0.0
        )
        if self.pass_time is not None and seconds > 0:
            self.pass_time(seconds)

    def take(self, request: httpx.Request) -> Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.matches(request):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                return fault
        return None

    def rate_limit(self, method: str, path: str, retry_after: int = 1, times: int = 1) -> Fault:
        return self.add(Fault(method, path, 429, {"Retry-After": str(retry_after)}, times=times))


class RateLimit:
    """A vendor's own request limit, as helpdesks apply theirs: at most `limit` requests in any
    `window` seconds (a sliding window, the strictest reading of "per minute"); one over it is refused with
    429 and a `Retry-After` (whole seconds) until the oldest request counted leaves the window. Refused
    requests do not count. Times are the fake's clock."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._counted: deque[float] = deque()
        #: When each request was refused, on the fake's clock.
        self.refused: list[float] = []

    def retry_after(self, now: float) -> int | None:
        """None: the request at `now` is let through (and counted); else the seconds to wait."""
        while self._counted and self._counted[0] <= now - self.window:
            self._counted.popleft()
        if len(self._counted) < self.limit:
            self._counted.append(now)
            return None
        self.refused.append(now)
        return max(1, math.ceil(self._counted[0] + self.window - now))
