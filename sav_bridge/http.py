"""Calls to the outside world: the one place where httpx errors and vendor status codes become ours.

`send()` retries briefly in-process with tenacity (honouring a short `Retry-After`), but only what is
safe to repeat: a refusal (429), a request that never left, or an idempotent request (GET, or one
with an `Idempotency-Key`). An ambiguous failure of anything else (timeout, 5xx after a PUT) goes
back to the outbox, whose retry tells the plugin to look before it writes again. Anything waiting
longer is raised as `RetryableError` so the outbox parks the job durably instead of holding a worker.
Vendors differ only in data: `VendorErrors` says which headers carry the wait and which statuses are
quota signals.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from sav_bridge.errors import DeliveryError, PermanentError, RetryableError

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Failures after which the vendor has certainly not acted on the request.
NOT_APPLIED_STATUS = frozenset({429})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class VendorErrors:
    """How one vendor signals 'slow down' and 'try again'."""

    name: str
    retry_after_headers: tuple[str, ...] = ("retry-after",)
    reset_epoch_headers: tuple[str, ...] = ()
    #: Extra (status, body substring) pairs that mean "quota exhausted, retry later".
    quota_signals: tuple[tuple[int, str], ...] = ()
    #: (body substring, seconds): the wait of a quota answer that names none (a 403 whose body says the
    #: allocation is spent, without a header), first match wins; it also keeps `send()` from repeating it.
    quota_waits: tuple[tuple[str, float], ...] = ()
    retryable_status: frozenset[int] = field(default=RETRYABLE_STATUS)


#: The longest a vendor's hint may park a job: past a day, a person should look (and a typo such as
#: `Retry-After: 1e400` must not park it for ever).
MAX_RETRY_AFTER = 24 * 3600.0


def retry_after_seconds(response: httpx.Response, vendor: VendorErrors, now: float) -> float | None:
    """The vendor's wait hint in seconds, clamped to [0, MAX_RETRY_AFTER]; None when absent or unreadable."""
    for header in vendor.retry_after_headers:
        value = response.headers.get(header)
        if value:
            return _clamp(_seconds_or_date(value, now))
    for header in vendor.reset_epoch_headers:
        value = response.headers.get(header)
        if value:
            reset = _number(value)
            return _clamp(None if reset is None else reset - now)
    return None


def _number(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return None if math.isnan(number) else number  # ±inf is clamped by the caller


def _seconds_or_date(value: str, now: float) -> float | None:
    """`Retry-After` is delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    number = _number(value)
    if number is not None:
        return number
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _clamp(seconds: float | None) -> float | None:
    return None if seconds is None else min(max(0.0, seconds), MAX_RETRY_AFTER)


def raise_for_vendor(response: httpx.Response, vendor: VendorErrors, now: float | None = None) -> None:
    """Map a non-2xx response to `RetryableError` or `PermanentError` (body detail trimmed, no secrets)."""
    if response.is_success:
        return
    now = time.time() if now is None else now
    detail = f"HTTP {response.status_code} {_short(response)}"
    quota = any(response.status_code == s and needle in response.text for s, needle in vendor.quota_signals)
    if response.status_code in vendor.retryable_status or quota:
        wait = retry_after_seconds(response, vendor, now)
        if wait is None and quota:
            wait = next((seconds for needle, seconds in vendor.quota_waits if needle in response.text), None)
        raise RetryableError(vendor.name, detail, response.status_code, wait)
    raise PermanentError(vendor.name, detail, response.status_code)


def _short(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:300]


@contextmanager
def transport_errors(vendor: VendorErrors) -> Iterator[None]:
    """httpx's failures to reach `vendor` as ours, for `send()` and for streamed downloads alike:
    `NotSent` when no connection was made (safe to repeat), `RetryableError` otherwise."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise NotSent(vendor.name, f"could not connect: {type(exc).__name__}") from exc
    except httpx.TimeoutException as exc:
        raise RetryableError(vendor.name, f"timeout: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise RetryableError(vendor.name, f"transport error: {type(exc).__name__}") from exc


async def send(
    client: httpx.AsyncClient,
    vendor: VendorErrors,
    method: str,
    url: str,
    *,
    attempts: int = 3,
    max_inline_wait: float = 5.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request with a few quick retries; return the 2xx response or raise our error."""

    headers = kwargs.get("headers") or {}
    repeatable = method.upper() in SAFE_METHODS or any(k.lower() == "idempotency-key" for k in headers)

    async def once() -> httpx.Response:
        with transport_errors(vendor):
            response = await client.request(method, url, **kwargs)
        raise_for_vendor(response, vendor)
        return response

    def short_wait(exc: BaseException) -> bool:
        if not isinstance(exc, RetryableError):
            return False
        safe = repeatable or isinstance(exc, NotSent) or exc.status in NOT_APPLIED_STATUS
        return safe and (exc.retry_after is None or exc.retry_after <= max_inline_wait)

    def wait(state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return exc.retry_after
        return float(wait_exponential_jitter(multiplier=0.2, max=max_inline_wait)(state))

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_exception(short_wait),
        reraise=True,
        sleep=sleep,
    )
    async for attempt in retrying:
        with attempt:
            return await once()
    raise AssertionError("unreachable")  # pragma: no cover


class NotSent(RetryableError):
    """The request never reached the vendor, so repeating it cannot do anything twice."""


def failure_kind(exc: DeliveryError) -> str:
    """How an admin should read a failed call: `"credentials"` (refused: fix the configuration),
    `"unavailable"` (no answer, throttled or a server error: try later) or `"refused"` (anything else)."""
    if exc.status in (401, 403):
        return "credentials"
    if exc.status is None or exc.status == 429 or exc.status >= 500:
        return "unavailable"
    return "refused"


def json_body(response: httpx.Response) -> Mapping[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise RetryableError("http", f"non-JSON answer (HTTP {response.status_code})") from exc
    if not isinstance(data, dict):
        raise PermanentError("http", "JSON answer is not an object")
    return data
