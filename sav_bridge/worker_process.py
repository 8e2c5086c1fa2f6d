"""The outbox workers in a process of their own beside `serve`'s HTTP process (`workers.process: separate`).

Why: on one event loop, every statement the workers made (a claim, a finish, a helpdesk call's JSON) was
time the webhooks waited for, and their CPU was the ingest's CPU. Apart, the HTTP process only ingests
(and serves the console and the health checks); the child runs the outbox workers, X polling and the
retention purge, at a lower CPU priority (`WORKER_NICE`): under a burst, ingest keeps the CPU and the
workers catch up once it passes. What they share is the database, as replicas do.

The parent (`WorkerProcess`, in the HTTP process) starts `python -m sav_bridge.worker_process` with the
same configuration and environment, restarts it if it dies (after 1 s, doubling up to 30 s while it keeps
dying within a minute), and talks to it over a socket pair:

- parent → child: a byte when jobs were committed, so that idle workers look at once (PostgreSQL also has
  LISTEN/NOTIFY; SQLite, which has none, relies on this); the workers poll behind it anyway;
- child → parent: its metrics every `METRICS_SECONDS`, merged into the HTTP process's `/metrics`
  (`sav_bridge.metrics_merge`), so a scrape sees the whole replica;
- the parent gone (even `kill -9`), the child reads the end of the stream and stops as on SIGTERM: it
  finishes the job in hand, gives back its leases and exits. It never outlives its parent.

Shutdown: SIGTERM to `serve` is passed to the child at once (`Runtime.begin_shutdown`), so both count the
same `server.shutdown_grace_seconds`; the parent then waits for the child until that deadline and kills
it if it has not exited (its leases then run out, as after a crash).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sav_bridge.runtime import Runtime

log = logging.getLogger(__name__)

#: How often the child sends its metrics to the parent.
METRICS_SECONDS = 1.0
#: The child's CPU priority, added to the parent's (`os.nice`): ingest first when both want the CPU.
WORKER_NICE = 10
#: Restart pauses after the child died: the first, the longest, and how long a run must last to reset it.
RESTART_FIRST, RESTART_MAX, RESTART_RESET = 1.0, 30.0, 60.0
_FRAME = struct.Struct("!I")


def child_command(config: str | None) -> list[str]:
    """How `serve` starts the child: this module, with the parent's `--config` (the environment is inherited)."""
    return [sys.executable, "-m", __name__, *(["--config", config] if config else [])]


class WorkerProcess:
    """The parent's side: start, supervise and stop the child, pass wake-ups in and take metrics out."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        #: The child's last metrics snapshot (`metrics_merge.snapshot`), None while none is running.
        self.metrics: list[dict[str, Any]] | None = None
        self.process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._wake_pending = False
        self._stopping = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    def start(self, runtime: Runtime) -> None:
        """Start the child, and start it again whenever it dies, until `begin_shutdown`."""
        runtime.outbox.forward_wakes(self.wake)
        self._supervisor = asyncio.create_task(self._supervise(runtime))

    def wake(self) -> None:
        """Jobs were committed: tell the child's workers, once per turn of the event loop."""
        if self._wake_pending or self._writer is None:
            return
        self._wake_pending = True
        asyncio.get_running_loop().call_soon(self._send_wake)

    def _send_wake(self) -> None:
        self._wake_pending = False
        writer = self._writer
        # A wake-up still in the buffer (the child busy, or stuck) says it all: nothing piles up.
        if writer is not None and not writer.is_closing() and not writer.transport.get_write_buffer_size():
            writer.write(b"w")

    def begin_shutdown(self) -> None:
        """SIGTERM: the child stops claiming jobs now and finishes the one in hand; no restart after it."""
        self._stopping.set()
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    async def stop(self, deadline: float) -> None:
        """Stop the child, waiting until `deadline` (`time.monotonic()`), then killing it."""
        self.begin_shutdown()
        if self.process is not None and self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                log.warning("worker process still running at the deadline: killed (its leases run out)")
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        if self._supervisor is not None:
            await self._supervisor

    async def _supervise(self, runtime: Runtime) -> None:
        pause = RESTART_FIRST
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                code = await self._run_child(runtime)
            except Exception:  # never the end of supervision: the next child is started as after a crash
                log.exception("worker process: supervision failed")
                code = None
            if self._stopping.is_set():
                break
            runtime.metrics.worker_process_restarts.inc()
            if time.monotonic() - started > RESTART_RESET:
                pause = RESTART_FIRST
            log.error("worker process exited with status %s; starting another in %.0f s", code, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
            pause = min(pause * 2, RESTART_MAX)

    async def _run_child(self, runtime: Runtime) -> int | None:
        """One child, from its start to its exit; its exit status."""
        ours, theirs = socket.socketpair()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, "--control-fd", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        except OSError as exc:
            ours.close()
            log.error("could not start the worker process: %s", exc)
            return None
        finally:
            theirs.close()
        if self._stopping.is_set():  # SIGTERM came while it started
            self.process.send_signal(signal.SIGTERM)
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        receiving = asyncio.create_task(self._receive(reader, runtime))
        try:
            return await self.process.wait()
        finally:
            runtime.metrics.worker_process_up.set(0)
            self.metrics = None
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
            self._writer.close()
            self._writer = None

    async def _receive(self, reader: asyncio.StreamReader, runtime: Runtime) -> None:
        """The child's metrics; the first says its workers run (`sav_bridge_worker_process_up`)."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
                self.metrics = json.loads(await reader.readexactly(size))
                runtime.metrics.worker_process_up.set(1)


# -- the child ---------------------------------------------------------------------------------------
async def work(config: str | None, control: socket.socket) -> int:
    """The child: a runtime whose workers, poller and retention run here, until SIGTERM or its parent ends."""
    from sav_bridge import heap, logs
    from sav_bridge.config import load_settings
    from sav_bridge.metrics_merge import snapshot
    from sav_bridge.runtime import Runtime

    settings = load_settings(config, os.environ)
    logs.configure(settings.log_level, settings.secrets())
    transport = None
    if settings.sandbox:  # this process's own fakes: deliveries land here, not in the HTTP process's
        from sav_bridge.cli import vendor_dir_from_env
        from sav_bridge.sandbox import SERVE_KEEPS, Sandbox

        transport = Sandbox(settings, vendor_dir_from_env(os.environ)).keep_last(SERVE_KEEPS).transport()
    runtime = await Runtime.start(settings, transport=transport)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)  # once started: a start-up is not delayed, the steady state yields to ingest
    runtime.start_workers(role="work")
    heap.settle()
    heap.give_back()  # what building the policy freed: ~23 MB of resident memory (sav_bridge/heap.py)
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()

    def stop() -> None:
        if not stopped.is_set():
            stopped.set()
            runtime.begin_shutdown(time.monotonic() + settings.shutdown_grace_seconds)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    reader, writer = await asyncio.open_unix_connection(sock=control)

    async def listen() -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                runtime.outbox.wake()
        if not stopped.is_set():
            log.warning("the HTTP process is gone: the workers stop")
        stop()

    async def report() -> None:
        with contextlib.suppress(ConnectionError):
            while not stopped.is_set():
                data = json.dumps(snapshot(runtime.metrics)).encode()
                writer.write(_FRAME.pack(len(data)) + data)
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), METRICS_SECONDS)

    tasks = [asyncio.create_task(listen()), asyncio.create_task(report())]
    await stopped.wait()
    await runtime.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    writer.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sav_bridge.worker_process", description=__doc__)
    parser.add_argument("--config")
    parser.add_argument("--control-fd", type=int, required=True)
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    from sav_bridge.errors import SavBridgeError

    try:
        return asyncio.run(work(args.config, control))
    except SavBridgeError as exc:
        print(f"sav-bridge worker process: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
