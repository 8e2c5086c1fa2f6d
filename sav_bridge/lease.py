"""A claimed job's lease: kept alive while the job runs, and checked before every external call.

A claim gives the worker the job for `lease_seconds` under a fencing token. While the handler runs, a
heartbeat renews the lease every third of that time, under the same token. A worker that stalls longer
than its lease (a long pause, a frozen VM) may find, when it wakes, that another replica took the job:
the renewal then finds a newer token and the lease is *lost*. Every external call checks the lease
first (`Lease.ensure`, reached through a context variable by the HTTP clients' request hook and by the
intent record), renewing it at once if it has run out on our clock; a lost lease raises `LeaseLost`
before the call leaves, so the new holder, which found the intent, reconciles instead of writing again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar

from sav_bridge.errors import SavBridgeError

log = logging.getLogger(__name__)

#: Renew when less than this share of the lease is left (and at each heartbeat, a third of the lease).
RENEW_SHARE = 1 / 3

Renew = Callable[[], Awaitable[bool]]


class LeaseLost(SavBridgeError):
    """The job's lease passed to another holder: this worker must stop before its next external call."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id}: lease lost to another holder; stopped before the next external call")
        self.job_id = job_id


class Lease:
    """The lease of one running job, as this worker knows it."""

    def __init__(
        self, job_id: int, token: int, until: float, seconds: float, renew: Renew, clock: Callable[[], float]
    ):
        self.job_id = job_id
        self.token = token
        self.until = until
        self.seconds = seconds
        self.lost = False
        self._renew = renew
        self._clock = clock
        self._lock = asyncio.Lock()

    async def renew(self) -> bool:
        """Extend the lease under our token; False (and lost for good) if another holder has it."""
        async with self._lock:
            if self.lost:
                return False
            now = self._clock()
            if await self._renew():
                self.until = now + self.seconds
                return True
            self.lost = True
            log.warning("job %s: lease lost to another holder", self.job_id)
            return False

    async def ensure(self) -> None:
        """Raise `LeaseLost` unless the lease is ours; renew first when little of it is left."""
        if not self.lost and self.until - self._clock() < self.seconds * RENEW_SHARE:
            await self.renew()
        if self.lost:
            raise LeaseLost(self.job_id)

    async def heartbeat(self) -> None:
        """Renew every third of the lease until cancelled or lost."""
        while not self.lost:
            await asyncio.sleep(self.seconds * RENEW_SHARE)
            try:
                await self.renew()
            except Exception:  # the store unreachable: the next call's `ensure` tries again
                log.warning("job %s: lease renewal failed", self.job_id, exc_info=True)


current: ContextVar[Lease | None] = ContextVar("sav_bridge_lease", default=None)


async def ensure_current() -> None:
    """The check before an external call: nothing outside a job (the console, start-up), else `ensure`."""
    lease = current.get()
    if lease is not None:
        await lease.ensure()


def fence() -> tuple[int, int] | None:
    """(job id, lease token) of the job this code runs for, for writes fenced by its lease."""
    lease = current.get()
    return None if lease is None else (lease.job_id, lease.token)


@contextlib.asynccontextmanager
async def holding(lease: Lease) -> AsyncIterator[Lease]:
    """Run the body as the holder of `lease`: the heartbeat beside it, the lease visible to the calls."""
    token = current.set(lease)
    beat = asyncio.ensure_future(lease.heartbeat())
    try:
        yield lease
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        current.reset(token)
