"""Inbound batches first, across the processes that write one SQLite file (`serve`, its worker process).

SQLite lets one writer in at a time and makes the others poll: a batch of webhooks that found the file
locked slept 1, 2, 5, 10… ms between its tries while the worker process's transactions, one after the
other, kept taking the lock. Within one process `Turns` serves batches first; between processes this gate
does, with `flock` locks on a file beside the database (`<file>-gate`):

- an inbound batch holds the gate exclusively from before it asks SQLite for the write lock until it has
  committed, and asks again every `RETRY_SECONDS` while another process's transaction holds it;
- any other transaction passes through the gate (takes a shared lock and lets it go) before it asks
  SQLite for the write lock: while a batch waits, no new transaction starts, so it waits for one at most.

Nobody waits for the gate while holding SQLite's lock, so the two cannot deadlock; a `flock` ends with its
process, `kill -9` included.
"""

from __future__ import annotations

import fcntl
import os

#: How often a batch that holds the gate asks again for SQLite's write lock.
RETRY_SECONDS = 0.0005


class Gate:
    """The gate of one SQLite file, as this process sees it."""

    def __init__(self, path: str) -> None:
        # Two descriptions of the same file: flock on one descriptor converts its lock, on two they conflict.
        self._exclusive = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._shared = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def hold(self, wait: bool = False) -> bool:
        """Take the gate for an inbound batch; without `wait`, False when another process holds it."""
        try:
            fcntl.flock(self._exclusive, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        fcntl.flock(self._exclusive, fcntl.LOCK_UN)

    def pass_through(self, wait: bool = False) -> bool:
        """Wait until no inbound batch holds the gate; without `wait`, False when one does."""
        try:
            fcntl.flock(self._shared, fcntl.LOCK_SH if wait else fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(self._shared, fcntl.LOCK_UN)
        return True

    def close(self) -> None:
        os.close(self._exclusive)
        os.close(self._shared)
