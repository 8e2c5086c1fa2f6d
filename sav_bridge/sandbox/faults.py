"""Failure injection for the fakes: the vendor's 429s, 5xx, timeouts and ambiguous failures."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx


@dataclass
class Fault:
    """Make the next `times` matching requests fail.

    `applied=True` is the nasty case: the vendor does the work, then the answer is lost (5xx or
    timeout), so a client that retries blindly would do it twice.
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

    def matches(self, request: httpx.Request) -> bool:
        return request.method == self.method and re.fullmatch(self.path, request.url.path) is not None

    def response(self, request: httpx.Request) -> httpx.Response:
        if self.connect_error:
            raise httpx.ConnectError("injected connection refusal", request=request)
        if self.timeout:
            raise httpx.ReadTimeout("injected timeout", request=request)
        return httpx.Response(self.status, headers=self.headers, text=self.body, request=request)


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def take(self, request: httpx.Request) -> Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.matches(request):
                fault.times -= 1
                return fault
        return None

    def rate_limit(self, method: str, path: str, retry_after: int = 1, times: int = 1) -> Fault:
        return self.add(Fault(method, path, 429, {"Retry-After": str(retry_after)}, times=times))
