"""Per-destination limits on the wire, and what a vendor's answer says about slowing down.

Reading an answer reuses what exists: `sav_bridge.http` parses the waits (`Retry-After` in seconds or as
an HTTP date, X's `x-rate-limit-reset` epoch) into `RetryableError.retry_after`, and the plugins raise
their own vendor's signals that way (a 429 without a wait as the vendor's window, a spent quota that
is no 429 as a `Paused` with its wait). `park_seconds` turns such an error into how long the whole
destination is parked, clamped to [1 s, 1 h]; `response_park` reads a response before any error is
raised (the hook below), so every replica stops at once.

On the wire, `Throttle` hooks the gateway's shared HTTP client and finds each request's destination by
its host (`egress.destination_hosts`):

- before a request to a destination with a rate limit (`workers.rate_limits`, requests per minute), it
  reserves the next free slot in the table every replica shares (`store.destinations`) and sleeps until
  it. A slot further than `max_wait` away (the destination is parked, or its queue is that long) is not
  waited for: `Throttled`, and the job waits without using an attempt (nothing was sent);
- after a response, a 429 (or `x-rate-limit-remaining: 0` with its reset) parks the destination for
  every replica; this process holds its own next requests to it until then without asking the database
  (waiting out a short park, refusing past `max_wait`).

X's limits are per endpoint (a post, a DM and each timeline read have their own window), so for X only
writes are limited and parked on: a 429 on a read (polling, a read-back) says nothing about posting.
A destination without a rate limit is held by the outbox's claim alone (`Destinations.blocked`), plus the
parks this process saw itself.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from sav_bridge.config import BaseSettings
from sav_bridge.egress import AllowList, destination_hosts
from sav_bridge.errors import DeliveryError, RetryableError
from sav_bridge.http import SAFE_METHODS, NotSent, VendorErrors, retry_after_seconds
from sav_bridge.store.destinations import Destinations, clamp_park

#: A worker waits this long at most for its request's slot (its job's lease is renewed meanwhile).
MAX_WAIT = 30.0
#: A 429 that names no wait: the helpdesks' windows are a minute, and X answers with its reset anyway.
DEFAULT_PARK = 60.0
#: The answers' wait headers, as every vendor of ours spells them (`http.retry_after_seconds` reads them).
RATE_HEADERS = VendorErrors(
    name="any", retry_after_headers=("retry-after",), reset_epoch_headers=("x-rate-limit-reset",)
)
RESET_HEADERS = VendorErrors(name="any", retry_after_headers=(), reset_epoch_headers=("x-rate-limit-reset",))
#: Names the plugins' and X's errors give a destination, when not the destination's own (`destination_of`).
ALIASES = {"x media": "x"}
#: Destinations whose reads have limits of their own, apart from the writes jobs make.
WRITES_ONLY = frozenset({"x"})

Sleep = Callable[[float], Awaitable[None]]
RequestHook = Callable[[httpx.Request], Awaitable[None]]


class Throttled(NotSent):
    """A request held back before it left: its destination is parked, or its next free slot is further
    than a worker should wait (`retry_after`, seconds). Nothing was sent, so the job waits that long
    without using an attempt, and the destination's breaker does not count it."""


def destination_of(exc: DeliveryError) -> str:
    """The destination a failed call went to ("x media" is X's)."""
    return ALIASES.get(exc.destination, exc.destination)


def park_seconds(exc: BaseException) -> float | None:
    """How long the vendor asked the whole destination to be left alone, clamped to [1 s, 1 h]: a 429
    (its `Retry-After` or `x-rate-limit-reset`, else a minute), another retryable answer that named a wait
    (a 503's `Retry-After`), a spent quota (a plugin's `Paused` with its wait). None for any other failure,
    which counts toward the breaker, for X's access refusal (a 401 `Paused` has a probe of its own) and for
    our own `Throttled` (the limiter's queue, not the vendor)."""
    if not isinstance(exc, RetryableError) or isinstance(exc, Throttled) or exc.status == 401:
        return None
    if exc.retry_after is not None:
        return clamp_park(exc.retry_after)
    if exc.status == 429:
        return DEFAULT_PARK
    return None


def response_park(response: httpx.Response, now: float) -> float | None:
    """How long a response asks its destination to be left alone (clamped), None when it does not: a 429,
    or `x-rate-limit-remaining: 0` with the `x-rate-limit-reset` it is spent until (X)."""
    if response.status_code == 429:
        wait = retry_after_seconds(response, RATE_HEADERS, now)
        return clamp_park(DEFAULT_PARK if wait is None else wait)
    if response.headers.get("x-rate-limit-remaining", "").strip() == "0":
        wait = retry_after_seconds(response, RESET_HEADERS, now)
        return clamp_park(wait) if wait else None
    return None


def limiter_hook(
    destinations: Destinations,
    name: str,
    per_second: float,
    *,
    max_wait: float = MAX_WAIT,
    sleep: Sleep = asyncio.sleep,
) -> RequestHook:
    """An httpx request hook for a client whose every request goes to `name`: waits for the request's slot
    under `per_second` shared by every replica, or raises `Throttled` when it is over `max_wait` away."""

    async def before(request: httpx.Request) -> None:
        await _wait_for_slot(destinations, name, per_second, max_wait, sleep)

    return before


async def _wait_for_slot(
    destinations: Destinations, name: str, per_second: float, max_wait: float, sleep: Sleep
) -> bool:
    """Wait for the request's slot; whether it waited at all."""
    slot = await destinations.reserve(name, per_second, within=max_wait)
    delay = slot.at - destinations.clock()
    if not slot.taken:
        raise Throttled(name, f"held back: its next request slot is {delay:.0f} s away", None, delay)
    if delay > 0:
        await sleep(delay)
    return delay > 0


def configured_routes(settings: BaseSettings) -> dict[str, Route]:
    """X and the helpdesk, by name, with their hosts and `workers.rate_limits` entries."""
    per_minute = settings.workers.rate_limits
    return {
        name: Route(name, hosts, per_minute[name] / 60.0 if name in per_minute else None, name in WRITES_ONLY)
        for name, hosts in destination_hosts(settings).items()
    }


@dataclass(frozen=True)
class Route:
    """A destination as the hooks see it: its hosts, its rate limit (requests per second, None: none)."""

    name: str
    hosts: AllowList
    per_second: float | None = None
    writes_only: bool = False

    def applies(self, request: httpx.Request) -> bool:
        return not (self.writes_only and request.method.upper() in SAFE_METHODS)


class Throttle:
    """The rate limits and parks of every destination, as request and response hooks of one shared client
    (module docstring)."""

    def __init__(
        self,
        destinations: Destinations,
        routes: Mapping[str, Route],
        *,
        max_wait: float = MAX_WAIT,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`sleep` and `monotonic` measure the same time: the parks this process saw are waited out in it,
        whatever `destinations.clock` says (a test's clock moved by hand, while a `Retry-After` is slept)."""
        self.destinations = destinations
        self.routes = dict(routes)
        self.max_wait = max_wait
        self._sleep = sleep
        self._monotonic = monotonic
        #: Parks this process saw in a response, by destination, on `monotonic`: no database round trip.
        self._parked: dict[str, float] = {}

    @classmethod
    def from_settings(
        cls,
        settings: BaseSettings,
        destinations: Destinations,
        *,
        max_wait: float = MAX_WAIT,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Throttle:
        """The routes of the configuration: X and the helpdesk, each with its `workers.rate_limits` entry."""
        routes = configured_routes(settings)
        return cls(destinations, routes, max_wait=max_wait, sleep=sleep, monotonic=monotonic)

    def attach(self, client: httpx.AsyncClient) -> None:
        """Add the hooks to `client`: the request hook right after the egress check (a refused host is
        refused first) and before any other, such as the lease check, which must come after the wait."""
        requests = list(client.event_hooks.get("request", []))
        checks = [
            i for i, hook in enumerate(requests) if isinstance(getattr(hook, "__self__", None), AllowList)
        ]
        requests.insert(checks[0] + 1 if checks else 0, self.before)
        client.event_hooks = {
            "request": requests,
            "response": [*client.event_hooks.get("response", []), self.after],
        }

    def route(self, request: httpx.Request) -> Route | None:
        host = request.url.host
        for route in self.routes.values():
            if route.hosts.allows(host):
                return route if route.applies(request) else None
        return None

    async def before(self, request: httpx.Request) -> None:
        """The request hook: wait out a park this process saw (or refuse, past `max_wait`), then for a slot."""
        route = self.route(request)
        if route is None:
            return
        await self._wait_out_park(route.name)
        if route.per_second is not None:
            limit = route.per_second
            waited = await _wait_for_slot(self.destinations, route.name, limit, self.max_wait, self._sleep)
            # A slot taken before a park began (a 429 to a request ahead of ours) is not used in it.
            await self._wait_out_park(route.name, shared=waited)

    async def _wait_out_park(self, name: str, shared: bool = False) -> None:
        """Wait out the park this process saw (`shared`: or any replica recorded), refusing past `max_wait`."""
        left = self._parked.get(name, 0.0) - self._monotonic()
        if shared:
            now = self.destinations.clock()
            parked = {d.name: d.parked_seconds(now) for d in await self.destinations.state()}
            left = max(left, parked.get(name, 0.0))
        if left > self.max_wait:
            raise Throttled(name, f"held back: parked for {math.ceil(left)} s more", None, left)
        if left > 0:
            await self._sleep(left)

    async def after(self, response: httpx.Response) -> None:
        """The response hook: park the destination on a vendor's 'slow down', for every replica."""
        route = self.route(response.request)
        if route is None:
            return
        seconds = response_park(response, self.destinations.clock())
        if seconds is None:
            return
        detail = f"HTTP {response.status_code} from {response.request.url.host}: waiting {seconds:.0f} s"
        self._parked[route.name] = self._monotonic() + seconds  # this process's other requests, at once
        until = await self.destinations.park(route.name, seconds, detail)
        self._parked[route.name] = self._monotonic() + until - self.destinations.clock()
