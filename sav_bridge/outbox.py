"""Workers that drain the job table: claim with a lease, run, then finish, reschedule or bury.

Retry schedule: exponential with full jitter, capped (`workers.max_backoff_seconds`); a vendor's own
`Retry-After` wins. A failing job goes to the dead letters once it has had `workers.max_attempts`
attempts *and* has been failing for `workers.retry_hours` (72 by default: a helpdesk down for a weekend
loses nothing), or at once for a `PermanentError`; `on_dead` then runs (the flows tell the agent, in the
ticket). A job whose own payload cannot be read (`BadJob`), or that crashes the same way twice, is buried
at once. A dead job holds its conversation's later jobs (strict order) until a person replays or skips
it (`sav-bridge jobs`); the held conversations are counted in the metrics. A job of a `Paused`
destination (X refused the gateway's access) only waits: it uses up no attempt and never goes to the dead
letters.

While a job runs, its lease is renewed by a heartbeat (`lease`); every external call checks it first, so a
worker that stalled past its lease and lost the job to another replica stops before writing anything
(`LeaseLost`), and the new holder reconciles from the intent the first one recorded. Completion is fenced
by the lease token too, so a worker that lost its lease cannot overwrite a newer claimer.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sav_bridge.config import WorkerSettings
from sav_bridge.errors import BadJob, Paused, PermanentError, RetryableError
from sav_bridge.lease import Lease, LeaseLost, holding
from sav_bridge.metrics import Metrics
from sav_bridge.store import Job, NewJob, Store
from sav_bridge.store.database import storable_text
from sav_bridge.store.destinations import Destination
from sav_bridge.throttle import Throttled, destination_of, park_seconds

log = logging.getLogger(__name__)

#: How long a worker trusts its copy of the destinations' shared state.
STATE_SECONDS = 1.0

Handler = Callable[[Job], Awaitable[list[NewJob] | None]]
DeadHandler = Callable[[Job, str], Awaitable[None]]
Scrubber = Callable[[Mapping[str, Any]], dict[str, Any]]


class Outbox:
    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, Handler],
        settings: WorkerSettings,
        metrics: Metrics,
        on_dead: DeadHandler | None = None,
        rng: random.Random | None = None,
        scrubbers: Mapping[str, Scrubber] | None = None,
        destinations: Mapping[str, str] | None = None,
    ) -> None:
        """`scrubbers`, by job kind, rewrite a done job's payload so that what it no longer needs
        (an agent's reply text) is not kept; a dead job keeps its payload, to be replayed."""
        self.store = store
        self.handlers = handlers
        self.scrubbers = scrubbers or {}
        #: The destination each job kind writes to (X, the helpdesk): its parks and breaker hold the kind.
        self.destinations = {kind: name for kind, name in (destinations or {}).items() if name}
        self._states: dict[str, Destination] = {}
        self._states_read_at = -math.inf
        self.settings = settings
        self.metrics = metrics
        self.on_dead = on_dead
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._forward: Callable[[], None] | None = None
        #: The jobs this process's workers hold now, by id: what `release` gives back at shutdown.
        self.held: dict[int, Job] = {}

    def wake(self) -> None:
        """Hint that a job was enqueued, so idle workers look now rather than at the next poll."""
        self._wake.set()
        if self._forward is not None:
            self._forward()

    def forward_wakes(self, forward: Callable[[], None]) -> None:
        """Pass each wake-up on to `forward` too: the workers of this replica run in another process."""
        self._forward = forward

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after + self._rng.uniform(0, 1)
        ceiling = min(self.settings.max_backoff_seconds, 2.0 ** min(attempts, 30))
        return self._rng.uniform(ceiling / 2, ceiling)

    async def run_once(self) -> bool:
        """Claim and run one job; False when nothing is runnable now."""
        now = self.store.clock()
        states = await self._destination_states()
        blocked = {name for name, d in states.items() if d.held_until(now) is not None}
        skip = [kind for kind, name in self.destinations.items() if name in blocked]
        job = await self.store.claim(self.settings.lease_seconds, skip)
        if job is None:
            return False
        self.held[job.id] = job
        try:
            await self._run(job)
        except asyncio.CancelledError:
            raise  # cut short at shutdown: the job stays held, and `release` gives its lease back
        except BaseException:
            self.held.pop(job.id, None)
            raise
        self.held.pop(job.id, None)
        return True

    async def _run(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        seconds = self.settings.lease_seconds
        lease = Lease(
            job.id, job.lease_token, self.store.clock() + seconds, seconds,
            lambda: self.store.renew(job, seconds), self.store.clock,
        )  # fmt: skip
        destination = self.destinations.get(job.kind)
        known = (await self._destination_states()).get(destination or "")
        if destination is not None and known is not None and known.breaker_open:
            held_until = await self.store.destinations.admit(destination)
            if held_until is not None:  # its breaker is open and another worker probes it
                await self.store.reschedule(job, held_until, f"{destination}: breaker open", counted=False)
                return
        try:
            if handler is None:
                raise PermanentError("outbox", f"no handler for job kind {job.kind!r}")
            async with holding(lease):
                follow_ups = await handler(job)
        except LeaseLost:
            # Another replica holds the job now and reconciles from what we recorded: touch nothing.
            self.metrics.leases_lost.inc()
            log.warning("job %s (%s): lease lost while running; left to its new holder", job.id, job.kind)
            return
        except PermanentError as exc:
            await self._give_up(job, str(exc))
        except RetryableError as exc:
            await self._after_failure(job, exc)
        except BadJob as exc:
            log.error("job %s (%s) cannot be processed: %s", job.id, job.kind, exc)
            await self._give_up(job, f"cannot be processed (no retry can fix it): {exc}")
        except Exception as exc:
            log.exception("job %s (%s) crashed", job.id, job.kind)
            error = f"internal error: {type(exc).__name__}: {exc}"
            if job.last_error == _stored(error):
                await self._give_up(job, f"failed the same way twice: {error}")
            else:
                await self._retry(job, error, None)
        else:
            if destination is not None and known is not None and (known.failures or known.breaker_open):
                await self.store.destinations.success(destination)
                self._states_read_at = -math.inf
            scrub = self.scrubbers.get(job.kind)
            if not await self.store.finish(job, follow_ups or (), scrub(job.payload) if scrub else None):
                log.warning("job %s lost its lease before finishing", job.id)
            elif follow_ups:
                self.wake()

    async def _destination_states(self) -> dict[str, Destination]:
        """The destinations' shared state (a handful of rows), read at most once a second per process
        rather than three times per job; read again at once after this process parked one or counted a
        failure. Another replica's park is seen here within a second (its own requests stop at once)."""
        if not self.destinations:
            return {}
        now = self.store.clock()
        if now - self._states_read_at >= STATE_SECONDS or now < self._states_read_at:
            self._states = {d.name: d for d in await self.store.destinations.state()}
            self._states_read_at = now
        return self._states

    async def _after_failure(self, job: Job, exc: RetryableError) -> None:
        """A destination that asked to be left alone (429, Retry-After, a spent quota) is parked for every
        replica and the job waits without using an attempt; a paused one (X refused our access) or a
        request the limiter held back waits too; any other failure counts toward the destination's
        breaker and uses an attempt."""
        name = destination_of(exc)
        known = name in self.destinations.values()
        seconds = park_seconds(exc)
        if seconds is not None and known:
            until = await self.store.destinations.park(name, seconds, str(exc))
            self._states_read_at = -math.inf
            await self.store.reschedule(job, until + self._rng.uniform(0, 1), str(exc), counted=False)
        elif isinstance(exc, (Paused, Throttled)):
            # Paused: one line per pause is logged where it starts, each waiting job would only repeat it.
            # Throttled: held back before it left, so nothing was sent and nothing failed.
            wait = self.store.clock() + self.backoff(0, exc.retry_after)
            await self.store.reschedule(job, wait, str(exc), counted=False)
        else:
            if known and await self.store.destinations.failure(name, str(exc)):
                log.warning("%s: circuit breaker open after failures in a row; its jobs wait", name)
            self._states_read_at = -math.inf
            await self._retry(job, str(exc), exc.retry_after)

    async def release(self) -> int:
        """Give back the leases of the jobs still held (workers cut short at shutdown), so that another
        replica takes them at once; how many were released."""
        held = list(self.held.values())
        self.held.clear()
        return await self.store.release(held) if held else 0

    async def _retry(self, job: Job, error: str, retry_after: float | None) -> None:
        self.metrics.failures.labels(job.kind, "true").inc()
        failing_for = self.store.clock() - job.created_at
        if job.attempts >= self.settings.max_attempts and failing_for >= self.settings.retry_hours * 3600:
            await self._give_up(
                job, f"gave up after {job.attempts} attempts over {failing_for / 3600:.0f} h: {error}"
            )
            return
        delay = self.backoff(job.attempts, retry_after)
        log.warning(
            "job %s (%s) attempt %s failed, retry in %.0fs: %s", job.id, job.kind, job.attempts, delay, error
        )
        await self.store.reschedule(job, self.store.clock() + delay, error)

    async def _give_up(self, job: Job, error: str) -> None:
        self.metrics.failures.labels(job.kind, "false").inc()
        if not await self.store.bury(job, error):
            return
        self.metrics.dead_letters.labels(job.kind).inc()
        log.error("job %s (%s) moved to dead letters: %s", job.id, job.kind, error)
        if self.on_dead:
            try:
                await self.on_dead(job, error)
            except Exception:
                log.exception("dead-letter hook failed for job %s", job.id)
        self.wake()

    async def drain(self, max_jobs: int = 10_000) -> int:
        """Run jobs until none is runnable now (tests, the demo, `--once`). Returns how many ran."""
        ran = 0
        while ran < max_jobs and await self.run_once():
            ran += 1
        return ran

    async def run(self, stop: asyncio.Event) -> None:
        """Worker loop: run what is ready, otherwise sleep until woken or the next poll."""
        while not stop.is_set():
            self._wake.clear()  # before looking: a wake-up while we look is not lost, we look again
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("worker iteration failed (store unreachable?)")
                busy = False
            if busy:
                continue
            waiters: list[Any] = [
                asyncio.ensure_future(self._wake.wait()),
                asyncio.ensure_future(stop.wait()),
            ]
            _, pending = await asyncio.wait(
                waiters, timeout=self.settings.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()


def _stored(error: str) -> str:
    """An error as `last_error` keeps it, to compare with the previous attempt's."""
    return storable_text(error[:2000])
