"""Per-destination parks, circuit breakers and rate limits shared by every replica (`store.destinations`,
`sav_bridge.throttle`): on SQLite and PostgreSQL, with a clock the tests move, except the test of three
OS processes sharing one limit, which runs on the real clock."""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from sav_bridge.channels.x.access import AccessPaused
from sav_bridge.config import load_settings
from sav_bridge.egress import AllowList
from sav_bridge.errors import ConfigError, Paused, RetryableError
from sav_bridge.http import RETRYABLE_STATUS, VendorErrors, raise_for_vendor, send
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store, open_store
from sav_bridge.store.destinations import Destinations
from sav_bridge.throttle import (
    Route,
    Throttle,
    Throttled,
    configured_routes,
    limiter_hook,
    park_seconds,
    response_park,
)
from tests.conftest import postgres_schema_url

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_795_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(database_url: str, clock: Clock) -> AsyncIterator[Store]:
    opened = await open_store(database_url, clock)
    yield opened
    await opened.close()


@pytest.fixture
def destinations(store: Store, clock: Clock) -> Destinations:
    return Destinations(store.db, clock)


# -- parks ---------------------------------------------------------------------------------------------
async def test_a_park_lasts_between_a_second_and_an_hour_and_is_never_shortened(
    destinations: Destinations,
) -> None:
    assert await destinations.park("zendesk", 0.2, "429") == T0 + 1
    assert await destinations.park("zendesk", 86_400 * 30, "Retry-After: 2592000") == T0 + 3600
    assert await destinations.park("zendesk", 10, "429") == T0 + 3600, "a later, shorter wait shortened it"
    assert await destinations.park("freshdesk", float("nan"), "?") == T0 + 1
    assert await destinations.blocked() == {"zendesk": T0 + 3600, "freshdesk": T0 + 1}


async def test_no_request_slot_is_handed_out_before_the_park_ends(
    destinations: Destinations, clock: Clock
) -> None:
    assert (await destinations.reserve("zendesk", 10)).at == T0
    await destinations.park("zendesk", 20, "429 Retry-After: 20")
    clock.advance(5)
    refused = await destinations.reserve("zendesk", 10, within=5)
    assert (refused.taken, refused.at) == (False, T0 + 20)
    first, second = await destinations.reserve("zendesk", 10), await destinations.reserve("zendesk", 10)
    assert first.taken and first.at == T0 + 20 and second.at == pytest.approx(T0 + 20.1)
    assert (await destinations.reserve("x", 10)).at == T0 + 5, "another destination waited for zendesk's park"


async def test_blocked_lists_only_what_is_blocked_now(destinations: Destinations, clock: Clock) -> None:
    await destinations.park("x", 10, "429")
    for _ in range(5):
        await destinations.failure("zendesk", "HTTP 503")
    await destinations.failure("freshdesk", "HTTP 503")  # one failure: nothing opens
    await destinations.reserve("salesforce", 1)  # a rate-limited destination is not blocked
    assert await destinations.blocked() == {"x": T0 + 10, "zendesk": T0 + 30}
    clock.advance(11)
    assert await destinations.blocked() == {"zendesk": T0 + 30}
    assert await destinations.blocked(T0 + 5) == {"x": T0 + 10, "zendesk": T0 + 30}
    clock.advance(20)
    assert await destinations.blocked() == {}, "a breaker whose cooldown passed waits for its probe, unlisted"


# -- circuit breakers ------------------------------------------------------------------------------------
async def test_the_breaker_opens_at_the_threshold_and_its_cooldown_doubles_up_to_ten_minutes(
    destinations: Destinations, clock: Clock
) -> None:
    assert [await destinations.failure("zendesk", "HTTP 503") for _ in range(5)] == [False] * 4 + [True]
    assert await destinations.admit("zendesk") == T0 + 30
    assert not await destinations.failure("zendesk", "late"), "a failure while open opened it again"
    cooldowns = []
    for _ in range(7):
        opened_until = (await destinations.blocked())["zendesk"]
        cooldowns.append(opened_until - clock())
        clock.now = opened_until
        assert await destinations.admit("zendesk") is None, "the probe was not let through"
        assert await destinations.failure("zendesk", "HTTP 503"), "a failed probe did not open it again"
    assert cooldowns == [30, 60, 120, 240, 480, 600, 600]


async def test_one_probe_across_replicas_and_its_success_closes_the_breaker(
    database_url: str, clock: Clock
) -> None:
    replicas = [await open_store(database_url, clock) for _ in range(3)]
    try:
        breakers = [Destinations(s.db, clock) for s in replicas]
        for i in range(5):
            await breakers[i % 3].failure("zendesk", "HTTP 503")
        clock.advance(30)
        answers = await asyncio.gather(*(b.admit("zendesk") for b in breakers for _ in range(4)))
        assert answers.count(None) == 1, f"{answers.count(None)} probes went to a half-open helpdesk"
        assert set(answers) - {None} == {T0 + 30 + 60}, "the others do not wait for the probe's window"
        assert await breakers[1].blocked() == {"zendesk": T0 + 90}
        await breakers[2].success("zendesk")
        assert await breakers[0].blocked() == {}
        assert await breakers[0].admit("zendesk") is None
        state = {d.name: d for d in await breakers[0].state()}["zendesk"]
        assert (state.breaker_open, state.failures, state.opened) == (False, 0, 0)
        for _ in range(4):
            assert not await breakers[0].failure("zendesk", "HTTP 503"), "the count survived the success"
        assert await breakers[0].failure("zendesk", "HTTP 503")
        assert await breakers[0].blocked() == {"zendesk": clock() + 30}, "the cooldown did not start again"
    finally:
        for s in replicas:
            await s.close()


async def test_concurrent_failures_open_the_breaker_once(database_url: str, clock: Clock) -> None:
    replicas = [await open_store(database_url, clock) for _ in range(2)]
    try:
        breakers = [Destinations(s.db, clock) for s in replicas]
        opened = await asyncio.gather(
            *(b.failure("freshdesk", "timeout") for b in breakers for _ in range(6))
        )
        assert opened.count(True) == 1
        assert await breakers[0].blocked() == {"freshdesk": T0 + 30}
    finally:
        for s in replicas:
            await s.close()


# -- rate limits -----------------------------------------------------------------------------------------
class Network:
    """The outside world: answers 200 (or what `answers` holds next) and remembers when each request came."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.seen: list[tuple[str, str, float]] = []
        self.answers: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.host, self.clock()))
        return self.answers.pop(0) if self.answers else httpx.Response(200)


async def test_several_tasks_keep_to_a_shared_limit_and_an_idle_spell_banks_no_burst(
    database_url: str, clock: Clock
) -> None:
    """Five tasks on two replicas' connections send through a 10 requests/s limit; the clock stands still
    and each task's wait is added to it, so the times are exactly those the limiter gave out."""
    replicas = [await open_store(database_url, clock) for _ in range(2)]
    sent: list[float] = []

    async def sleep(seconds: float) -> None:
        sent.append(clock() + seconds)
        await asyncio.sleep(0)

    try:
        hooks = [limiter_hook(Destinations(s.db, clock), "zendesk", 10.0, sleep=sleep) for s in replicas]

        async def task(i: int) -> None:
            transport = httpx.MockTransport(lambda r: httpx.Response(200))
            async with httpx.AsyncClient(transport=transport, event_hooks={"request": [hooks[i % 2]]}) as c:
                for _ in range(10):
                    await c.post("https://acme.zendesk.com/api/v2/tickets")

        await asyncio.gather(*(task(i) for i in range(5)))
        clock.advance(100)
        start = len(sent)
        await asyncio.gather(*(task(i) for i in range(2)))
    finally:
        for s in replicas:
            await s.close()
    first, later = sorted([T0, *sent[:start]]), sorted(sent[start:])
    assert len(first) == 50 and first[0] == T0  # the very first request waits for nothing (no sleep)
    assert min(b - a for a, b in itertools.pairwise(first)) == pytest.approx(0.1)
    assert first[-1] - first[0] == pytest.approx(4.9)
    assert later[0] == pytest.approx(T0 + 100.1), "the idle spell let a burst through"
    assert min(b - a for a, b in itertools.pairwise(later)) == pytest.approx(0.1)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_schema_url()


@pytest.mark.postgres
async def test_three_processes_keep_to_ten_requests_a_second_within_ten_percent(postgres_url: str) -> None:
    """Three OS processes, one PostgreSQL, the real clock: together they send at 10 requests/s, and no
    second holds more than 11."""
    await (await open_store(postgres_url)).close()  # the schema, made once before the replicas start
    per_process = 12
    command = [
        sys.executable,
        "-m",
        "tests.reliability.rate_worker",
        postgres_url,
        "zendesk",
        "10",
        str(per_process),
    ]
    workers = [
        subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert all(worker.returncode == 0 for worker in workers)
    sent = sorted(float(line) for out in outputs for line in out.split())
    assert len(sent) == 3 * per_process
    rate = (len(sent) - 1) / (sent[-1] - sent[0])
    assert 9.0 <= rate <= 11.0, f"{rate:.2f} requests/s across the replicas, for a limit of 10"
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0) for start in sent)
    assert busiest <= 11, f"{busiest} requests in one second"


# -- the hooks on the shared client ----------------------------------------------------------------------
def throttle(destinations: Destinations, **rates: float) -> Throttle:
    routes = {
        "x": Route("x", AllowList.of(["api.x.com"]), rates.get("x"), writes_only=True),
        "zendesk": Route("zendesk", AllowList.of(["acme.zendesk.com"]), rates.get("zendesk")),
    }
    return Throttle(destinations, routes, max_wait=5)


async def test_a_429_parks_its_destination_for_every_replica_and_nothing_is_sent_before_retry_after(
    database_url: str, clock: Clock
) -> None:
    replicas = [await open_store(database_url, clock) for _ in range(2)]
    network = Network(clock)
    network.answers.append(httpx.Response(429, headers={"Retry-After": "20"}))
    clients = []
    try:
        for s in replicas:
            client = httpx.AsyncClient(transport=httpx.MockTransport(network))
            throttle(Destinations(s.db, clock), zendesk=600).attach(client)
            clients.append(client)
        assert (await clients[0].post("https://acme.zendesk.com/api/v2/tickets")).status_code == 429
        for client in clients:  # the replica that saw it, and the other through the shared table
            with pytest.raises(Throttled) as refused:
                await client.post("https://acme.zendesk.com/api/v2/tickets")
            assert refused.value.retry_after == pytest.approx(20, abs=0.2)
        assert (await clients[1].post("https://api.x.com/2/tweets")).status_code == 200, "X waited too"
        assert await Destinations(replicas[1].db, clock).blocked() == {"zendesk": T0 + 20}
        clock.advance(20)
        assert (await clients[1].post("https://acme.zendesk.com/api/v2/tickets")).status_code == 200
        zendesk = [at for _, host, at in network.seen if host == "acme.zendesk.com"]
        assert zendesk == [T0, T0 + 20]
    finally:
        for client in clients:
            await client.aclose()
        for s in replicas:
            await s.close()


async def test_a_short_retry_after_is_waited_out_in_this_process_and_the_quick_retry_still_goes(
    destinations: Destinations,
) -> None:
    """After a 429 with `Retry-After: 2` the next request waits the two seconds, measured as they are
    slept (the store's clock stands still here); `http.send`'s own quick retry is not refused by it."""
    elapsed = [0.0]

    async def sleep(seconds: float) -> None:
        elapsed[0] += seconds

    sent: list[float] = []

    def network(request: httpx.Request) -> httpx.Response:
        sent.append(elapsed[0])
        limited = len(sent) in (1, 3)
        return httpx.Response(429, headers={"Retry-After": "2"}) if limited else httpx.Response(201)

    limiter = Throttle(destinations, throttle(destinations).routes, sleep=sleep, monotonic=lambda: elapsed[0])
    client = httpx.AsyncClient(transport=httpx.MockTransport(network))
    limiter.attach(client)
    url = "https://acme.zendesk.com/api/v2/tickets"
    async with client:
        assert (await client.post(url)).status_code == 429
        assert (await client.post(url)).status_code == 201
        assert sent == [0, 2]
        answer = await send(client, VendorErrors("zendesk", ("retry-after",)), "POST", url, sleep=sleep)
    assert answer.status_code == 201 and sent == [0, 2, 2, 4]
    assert await destinations.blocked() == {"zendesk": T0 + 2}


async def test_x_is_parked_by_what_a_write_is_told_never_by_a_read(
    destinations: Destinations, clock: Clock
) -> None:
    network = Network(clock)
    client = httpx.AsyncClient(transport=httpx.MockTransport(network))
    throttle(destinations).attach(client)
    async with client:
        network.answers.append(httpx.Response(429, headers={"x-rate-limit-reset": str(int(T0 + 600))}))
        await client.get("https://api.x.com/2/users/1/mentions")  # a read's own window (polling)
        assert await destinations.blocked() == {}
        spent = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(T0 + 900))}
        network.answers.append(httpx.Response(201, headers=spent))
        await client.post("https://api.x.com/2/tweets")
        assert await destinations.blocked() == {"x": T0 + 900}
        with pytest.raises(Throttled):
            await client.post("https://api.x.com/2/tweets")
    assert len(network.seen) == 2


async def test_the_limiter_waits_after_the_egress_check_and_before_the_other_hooks(
    destinations: Destinations,
) -> None:
    order: list[str] = []

    async def lease_check(request: httpx.Request) -> None:
        order.append("lease")

    allowed = AllowList.of(["acme.zendesk.com"])
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        event_hooks={"request": [allowed.check, lease_check]},
    )
    limiter = throttle(destinations, zendesk=60)
    limiter.attach(client)
    assert client.event_hooks["request"] == [allowed.check, limiter.before, lease_check]
    assert client.event_hooks["response"] == [limiter.after]
    await client.aclose()


# -- what a vendor's answer says -------------------------------------------------------------------------
def error(status: int, vendor: VendorErrors, now: float, body: str = "", **headers: str) -> BaseException:
    response = httpx.Response(status, headers=headers, text=body, request=httpx.Request("POST", "https://h/"))
    try:
        raise_for_vendor(response, vendor, now)
    except Exception as exc:
        return exc
    raise AssertionError("no error raised")


def test_each_vendors_slow_down_signal_becomes_a_park_clamped_to_a_second_and_an_hour() -> None:
    now = T0
    x = VendorErrors("x", ("retry-after",), ("x-rate-limit-reset",))
    zendesk = VendorErrors("zendesk", ("retry-after",))
    freshdesk = VendorErrors("freshdesk", ("retry-after",), retryable_status=RETRYABLE_STATUS - {409})
    date = email.utils.formatdate(now + 120, usegmt=True)
    assert park_seconds(error(429, x, now, **{"x-rate-limit-reset": str(int(now + 900))})) == 900
    assert park_seconds(error(429, x, now, **{"x-rate-limit-reset": str(int(now + 86_400))})) == 3600
    assert park_seconds(error(429, zendesk, now, **{"Retry-After": "30"})) == 30
    assert park_seconds(error(429, zendesk, now, **{"Retry-After": "0"})) == 1
    assert park_seconds(error(503, zendesk, now, **{"Retry-After": date})) == pytest.approx(120, abs=1)
    assert park_seconds(error(429, freshdesk, now)) == 60  # no wait named: a minute, the vendors' window
    assert park_seconds(RetryableError("freshdesk", "X-RateLimit-Remaining was 0", 429, 42.5)) == 42.5
    # Salesforce: a spent org allocation is a 403 the plugin raises as `Paused` with its quota wait.
    assert park_seconds(Paused("salesforce", "REQUEST_LIMIT_EXCEEDED", 403, 900.0, T0)) == 900
    # Not slow-down signals: a plain outage counts toward the breaker instead.
    assert park_seconds(error(503, zendesk, now)) is None
    assert park_seconds(error(500, zendesk, now)) is None
    assert park_seconds(AccessPaused("x", "access refused", 401, 60.0, T0)) is None
    assert park_seconds(Throttled("zendesk", "queue", None, 40.0)) is None
    assert park_seconds(ValueError("boom")) is None


def test_a_response_parks_on_429_and_on_a_spent_x_window_only() -> None:
    def answer(status: int, **headers: str) -> httpx.Response:
        return httpx.Response(status, headers=headers)

    assert response_park(answer(429, **{"Retry-After": "7"}), T0) == 7
    assert response_park(answer(429), T0) == 60
    assert response_park(answer(429, **{"Retry-After": "99999"}), T0) == 3600
    spent = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(T0 + 300))}
    assert response_park(answer(200, **spent), T0) == 300
    assert response_park(answer(200, **{**spent, "x-rate-limit-remaining": "3"}), T0) is None
    assert response_park(answer(200, **{"x-rate-limit-remaining": "0"}), T0) is None  # no reset: no guess
    assert response_park(answer(503), T0) is None


# -- configuration and metrics ---------------------------------------------------------------------------
def test_rate_limits_are_read_per_destination_and_a_typo_is_refused() -> None:
    pytest.importorskip("sav_bridge_zendesk")
    from tests.harness import gateway_env

    env = gateway_env("sqlite:///:memory:")
    settings = load_settings(None, {**env, "SAV_BRIDGE_WORKERS__RATE_LIMITS__ZENDESK": "700"})
    assert settings.workers.rate_limits == {"zendesk": 700}
    assert load_settings(None, env).workers.rate_limits == {}
    with pytest.raises(ConfigError, match=r"workers\.rate_limits\.zendsk: names no destination"):
        load_settings(None, {**env, "SAV_BRIDGE_WORKERS__RATE_LIMITS__ZENDSK": "700"})
    with pytest.raises(ConfigError, match=r"workers\.rate_limits\.x: must be greater than 0"):
        load_settings(None, {**env, "SAV_BRIDGE_WORKERS__RATE_LIMITS__X": "0"})
    routes = configured_routes(settings)
    assert routes["zendesk"].per_second == pytest.approx(700 / 60)
    assert routes["zendesk"].hosts.allows("mabanque.zendesk.com")
    assert routes["x"].per_second is None and routes["x"].writes_only


async def test_the_gauges_show_open_breakers_and_the_seconds_a_park_has_left(
    destinations: Destinations, clock: Clock
) -> None:
    await destinations.park("x", 90, "429")
    for _ in range(5):
        await destinations.failure("zendesk", "HTTP 503")
    clock.advance(30)
    metrics = Metrics()
    metrics.show_destinations(await destinations.state(), clock())
    text = metrics.render({}).decode()
    assert 'sav_bridge_destination_breaker_open{destination="zendesk"} 1.0' in text
    assert 'sav_bridge_destination_breaker_open{destination="x"} 0.0' in text
    assert 'sav_bridge_destination_parked_seconds{destination="x"} 60.0' in text
    assert 'sav_bridge_destination_parked_seconds{destination="zendesk"} 0.0' in text
    await destinations.success("zendesk")
    metrics.show_destinations(await destinations.state(), clock())
    assert 'sav_bridge_destination_breaker_open{destination="zendesk"} 0.0' in metrics.render({}).decode()


async def test_a_slot_taken_before_a_429_is_not_used_while_the_destination_is_parked(
    destinations: Destinations, clock: Clock
) -> None:
    """Two requests take their slots under 10 requests/s; the first is answered 429 (`Retry-After: 5`)
    while the second waits for its slot, 0.1 s later: the second goes after the park, not in it."""
    gate = asyncio.Event()
    elapsed = [0.0]

    async def sleep(seconds: float) -> None:
        await gate.wait()
        elapsed[0] += seconds
        clock.advance(seconds)

    network = Network(clock)
    network.answers.append(httpx.Response(429, headers={"Retry-After": "5"}))
    limiter = Throttle(
        destinations, throttle(destinations, zendesk=600).routes, sleep=sleep, monotonic=lambda: elapsed[0]
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(network))
    limiter.attach(client)
    url = "https://acme.zendesk.com/api/v2/tickets"
    async with client:
        first = asyncio.create_task(client.post(url))
        second = asyncio.create_task(client.post(url))
        assert (await first).status_code == 429
        gate.set()
        assert (await second).status_code == 200
    assert [at for _, _, at in network.seen] == [T0, pytest.approx(T0 + 5, abs=0.2)]
