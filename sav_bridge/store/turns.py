"""Whose turn it is to write to a SQLite file, among the connections of this process.

SQLite lets one writer in at a time and makes the others poll (`busy_timeout`: sleeps of 1 to 100 ms,
first come not first served). Taking turns here instead hands the file over the moment a transaction
ends, and lets inbound batches (webhooks waiting for their answer) go before the transactions of the
workers and the console already waiting: these are short, so neither side waits long.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Turns:
    """An asyncio lock with two queues: `urgent` waiters are served before the others."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def turn(self, urgent: bool = False) -> AsyncIterator[None]:
        if self._held:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue = self._urgent if urgent else self._others
            queue.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._hand_over()  # given the turn just as we were cancelled: pass it on
                else:
                    queue.remove(waiter)
                raise
        else:
            self._held = True
        try:
            yield
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        for queue in (self._urgent, self._others):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._held = False
