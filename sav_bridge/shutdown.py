"""Graceful shutdown of `sav-bridge serve`, on SIGTERM (what an orchestrator sends) or Ctrl-C.

In order, within `server.shutdown_grace_seconds` of the signal:

1. uvicorn stops accepting connections and closes the idle ones; at the same moment the workers stop
   claiming jobs (`Runtime.begin_shutdown`) and the poller and the health checks stop;
2. requests in flight are answered (a webhook being stored is committed, then acknowledged); one still
   running at the deadline is cut short, and its sender retries it;
3. the workers finish the job in hand; one still running at the deadline is cut short and its lease given
   back (`Outbox.release`), so another replica takes it at once rather than when the lease would end;
4. the database and the HTTP clients are closed, and the process exits 0.

A second Ctrl-C quits at once (uvicorn's own rule).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette

#: The signals that start a graceful shutdown (uvicorn's own set).
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run(server: uvicorn.Server, app: Starlette, sockets: list[socket.socket], grace: float) -> int:
    """Serve until a signal, then shut down gracefully (module docstring); the exit code, 0."""
    server.config.timeout_graceful_shutdown = grace  # type: ignore[assignment]  # a float works the same
    uvicorn_handler = server.handle_exit

    def handle_exit(sig: int, frame: FrameType | None) -> None:
        if not server.should_exit:  # the first signal: the countdown starts now, for requests and jobs alike
            runtime: Any = getattr(app.state, "runtime", None)
            if runtime is not None:
                deadline = time.monotonic() + grace
                asyncio.get_running_loop().call_soon_threadsafe(runtime.begin_shutdown, deadline)
        uvicorn_handler(sig, frame)

    server.handle_exit = handle_exit  # type: ignore[method-assign]
    # uvicorn raises the signal it caught again once it has shut down, to the handler it found: with the
    # default one, SIGTERM would end the process with status 143 after a clean shutdown.
    previous = {sig: signal.signal(sig, _already_handled) for sig in SIGNALS}
    try:
        server.run(sockets=sockets)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _already_handled(sig: int, frame: FrameType | None) -> None:
    """The signal was handled by the shutdown it started."""
