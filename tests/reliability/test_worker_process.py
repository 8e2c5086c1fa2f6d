"""`serve` with its workers in a process of their own (`workers.process: separate`, the default).

A real `sav-bridge serve` (sandbox, SQLite): what it acknowledges is delivered by the child; `/metrics`
shows the child's counts; the child is started again when it dies; SIGTERM stops both; and `kill -9` of
the HTTP process leaves no worker process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import load_settings
from sav_bridge.metrics import Metrics
from sav_bridge.metrics_merge import snapshot
from sav_bridge.sandbox import Customer, Sandbox
from tests.harness import CONSUMER_SECRET, gateway_env
from tests.reliability.test_edge_shutdown import free_port, wait_until_served


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def eventually(check: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


class Serve:
    """A running `sav-bridge serve` and what tests ask of it."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        self.port = free_port()
        self.database = tmp_path / "gateway.db"
        self.env = gateway_env(
            f"sqlite:///{self.database}", SAV_BRIDGE_SANDBOX="true", SAV_BRIDGE_SERVER__HOST="127.0.0.1",
            SAV_BRIDGE_SERVER__PORT=str(self.port), SAV_BRIDGE_WORKERS__COUNT="2", **extra,
        )  # fmt: skip
        self.fake_x = Sandbox(load_settings(None, self.env), None).x
        self.log = tmp_path / "serve.log"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SAV_BRIDGE_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sav_bridge.cli", "serve"],
            env={**clean, **self.env}, cwd=tmp_path, stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"), text=True,
        )  # fmt: skip
        self.sent = 0
        wait_until_served(self.port, self.process)

    def mention(self) -> None:
        self.sent += 1
        who = Customer(str(2_300_000_000_000_000_000 + self.sent), f"client_{self.sent}", "Client")
        body = json.dumps(self.fake_x.customer_post(who, f"@MaBanque carte bloquée {self.sent}")).encode()
        answer = httpx.post(
            f"http://127.0.0.1:{self.port}/webhooks/x",
            content=body,
            headers={"content-type": "application/json", SIGNATURE_HEADER: sign(CONSUMER_SECRET, body)},
        )
        assert answer.status_code == 200, answer.text

    def metric(self, line_start: str) -> float | None:
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics").text
        values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(line_start + " ")]
        return values[0] if values else None

    def delivered(self) -> int:
        return int(self.metric("sav_bridge_tickets_opened_total") or 0)

    def worker(self) -> int:
        assert eventually(lambda: len(children(self.process.pid)) == 1), self.log.read_text()[-2000:]
        [pid] = children(self.process.pid)
        return pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    started: list[Serve] = []

    def start(**extra: str) -> Serve:
        started.append(Serve(tmp_path, **extra))
        return started[-1]

    yield start
    for one in started:
        one.stop()
        for pid in children(one.process.pid):
            os.kill(pid, signal.SIGKILL)


def test_the_worker_process_delivers_what_serve_acknowledged_and_sigterm_stops_both(
    serve: Callable[..., Serve],
) -> None:
    gateway = serve()
    worker = gateway.worker()
    for _ in range(5):
        gateway.mention()
    # Delivered by the child (its counts reach the parent's /metrics), woken by the parent, not by polling.
    assert eventually(lambda: gateway.delivered() == 5), gateway.log.read_text()[-2000:]
    assert gateway.metric('sav_bridge_events_in_total{kind="mention",source="x"}') == 5
    assert gateway.metric("sav_bridge_worker_process_up") == 1
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(timeout=30) == 0
    assert not alive(worker)
    assert "Traceback" not in gateway.log.read_text()


def test_a_worker_process_that_dies_is_started_again_and_none_outlives_serve(
    serve: Callable[..., Serve],
) -> None:
    gateway = serve()
    first = gateway.worker()
    os.kill(first, signal.SIGKILL)
    assert eventually(lambda: children(gateway.process.pid) not in ([], [first]))
    assert eventually(lambda: gateway.metric("sav_bridge_worker_process_restarts_total") == 1)
    gateway.mention()
    assert eventually(lambda: gateway.delivered() == 1), gateway.log.read_text()[-2000:]
    second = gateway.worker()
    gateway.process.send_signal(signal.SIGKILL)
    gateway.process.wait(timeout=10)
    assert eventually(lambda: not alive(second), 30), "the worker process outlived serve"


def test_inline_workers_run_in_the_http_process(serve: Callable[..., Serve]) -> None:
    gateway = serve(SAV_BRIDGE_WORKERS__PROCESS="inline")
    gateway.mention()
    assert eventually(lambda: gateway.delivered() == 1)
    assert children(gateway.process.pid) == []
    assert gateway.metric("sav_bridge_worker_process_up") == 0


def test_one_metrics_page_for_both_processes() -> None:
    http, worker = Metrics(), Metrics()
    http.events_in.labels("x", "mention").inc(7)
    worker.tickets_opened.inc(3)
    worker.x_auth_failures.inc()  # counted by both processes: summed
    http.x_auth_failures.inc(2)
    worker.x_paused.set(1)  # the workers' side says X is paused: its word
    http.queue_age.set(42)  # read from the database at the scrape: the HTTP process's word
    worker.queue_age.set(5)
    http.other = lambda: snapshot(worker)
    text = http.exposition().decode()
    assert 'sav_bridge_events_in_total{kind="mention",source="x"} 7.0' in text
    assert "sav_bridge_tickets_opened_total 3.0" in text
    assert "sav_bridge_x_auth_failures_total 3.0" in text
    assert "sav_bridge_x_paused 1.0" in text
    assert "sav_bridge_queue_age_seconds 42.0" in text
    assert text.count("# TYPE sav_bridge_tickets_opened_total counter") == 1
