"""Graceful shutdown: on SIGTERM the gateway stops accepting, answers what is in flight, lets the workers
finish their job or gives its lease back, and exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import load_settings
from sav_bridge.flows.inbound import JOB_SOCIAL_MESSAGE
from sav_bridge.sandbox import Sandbox
from sav_bridge.store import Job, open_store
from tests.harness import CLAIRE, CONSUMER_SECRET, Gateway, gateway_env, start_gateway


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_served(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"serve exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail("serve did not become ready within 60 s")


def refused_soon(port: int) -> bool:
    """Whether new connections are refused within a few seconds."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True
        time.sleep(0.1)
    return False


def read_status(conn: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(rest) < length:
        rest += conn.recv(65536)
    return int(head.split(b" ")[1]), rest


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "gateway.db"
    env = gateway_env(
        f"sqlite:///{database}",
        SAV_BRIDGE_SANDBOX="true",
        SAV_BRIDGE_SERVER__HOST="127.0.0.1",
        SAV_BRIDGE_SERVER__PORT=str(port),
        SAV_BRIDGE_SERVER__SHUTDOWN_GRACE_SECONDS="15",
        SAV_BRIDGE_WORKERS__COUNT="1",
    )
    fake_x = Sandbox(load_settings(None, env), None).x
    body = json.dumps(fake_x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée")).encode()
    head = (
        f"POST /webhooks/x HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"{SIGNATURE_HEADER}: {sign(CONSUMER_SECRET, body)}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAV_BRIDGE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "sav_bridge.cli", "serve"],
        env={**clean, **env},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_served(port, process)
        with socket.create_connection(("127.0.0.1", port), timeout=20) as slow:
            slow.sendall(head + body[:20])  # a slow sender: the request is in flight, its body half sent
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            assert refused_soon(port)  # no longer accepting
            assert process.poll() is None  # still waiting for the request in flight
            slow.sendall(body[20:])
            status, answer = read_status(slow)
        assert status == 200 and json.loads(answer)["accepted"] == 1
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read() if process.stderr else ""
    assert "Traceback" not in stderr
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)  # acknowledged, so kept


async def gateway_with_a_worker(sqlite_url: str) -> Gateway:
    return await start_gateway(sqlite_url, None, SAV_BRIDGE_WORKERS__COUNT="1", SAV_BRIDGE_X__MODE="webhook")


async def mention(gw: Gateway, text: str) -> None:
    assert (await gw.post_x(gw.x.customer_post(CLAIRE, text))).status_code == 200


async def test_a_worker_finishes_its_job_and_claims_no_other_after_sigterm(sqlite_url: str) -> None:
    gw = await gateway_with_a_worker(sqlite_url)
    started, seen = asyncio.Event(), []

    async def slow(job: Job) -> None:
        seen.append(job.id)
        started.set()
        await asyncio.sleep(0.3)

    gw.runtime.outbox.handlers = {JOB_SOCIAL_MESSAGE: slow}
    await mention(gw, "@MaBanque premier")
    gw.runtime.start_workers()
    await asyncio.wait_for(started.wait(), 5)
    gw.runtime.begin_shutdown(time.monotonic() + 5)
    await mention(gw, "@MaBanque second, after SIGTERM")
    began = time.monotonic()
    await gw.client.aclose()
    await gw.runtime.close()
    assert time.monotonic() - began < 2  # it waited for the job, not for the whole grace
    assert len(seen) == 1
    store = await open_store(sqlite_url)
    try:
        assert await store.jobs_by_state() == {
            "done": 1,
            "pending": 1,
        }  # the second waits for another replica
    finally:
        await store.close()


async def test_a_job_still_running_at_the_deadline_is_cut_short_and_its_lease_given_back(
    sqlite_url: str,
) -> None:
    gw = await gateway_with_a_worker(sqlite_url)
    started = asyncio.Event()

    async def stuck(job: Job) -> None:
        started.set()
        await asyncio.Event().wait()

    gw.runtime.outbox.handlers = {JOB_SOCIAL_MESSAGE: stuck}
    await mention(gw, "@MaBanque bloqué")
    gw.runtime.start_workers()
    await asyncio.wait_for(started.wait(), 5)
    gw.runtime.begin_shutdown(time.monotonic() + 0.3)
    began = time.monotonic()
    await gw.client.aclose()
    await gw.runtime.close()
    assert time.monotonic() - began < 2

    other_replica = await open_store(sqlite_url, lambda: gw.clock.now + 1)  # one second later
    try:
        taken = await other_replica.claim(120)  # at once: the lease (120 s) was given back
        assert taken is not None and taken.kind == JOB_SOCIAL_MESSAGE and taken.attempts == 2
    finally:
        await other_replica.close()


def test_compose_waits_longer_than_the_gateway_s_own_grace() -> None:
    """Docker kills a container 10 s after SIGTERM unless told otherwise: the compose file gives the gateway
    more than `server.shutdown_grace_seconds` to finish what it has in flight."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    gateway = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]["gateway"]
    grace = load_settings(None, gateway_env("sqlite:///x.db")).shutdown_grace_seconds
    assert float(str(gateway["stop_grace_period"]).removesuffix("s")) > grace
