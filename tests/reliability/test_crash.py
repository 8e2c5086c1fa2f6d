"""Crashes lose nothing and double nothing.

- `kill -9` of a real `sav-bridge serve` during a burst of 5,000 signed X events: every event that was
  answered 2xx reaches the helpdesk exactly once after a restart (those not answered may or may not
  have been kept: X redelivers them, and a redelivery of a kept one is absorbed).
- A worker killed after the helpdesk created a ticket but before its job was marked done: the next
  process finds the ticket (the vendor's idempotency key) and the customer has one ticket.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import load_settings
from sav_bridge.sandbox import Customer, Sandbox
from tests.harness import CLAIRE, CONSUMER_SECRET, Gateway, gateway_env
from tests.reliability.test_edge_shutdown import free_port, wait_until_served
from tests.test_one_post import Killed, gateways, open_gateway, restart_after_kill

__all__ = ["gateways"]  # the fixture, imported for this module's tests

BURST = 5_000
CUSTOMERS = 50
CONNECTIONS = 24
KILL_AFTER = 2_000  # answered requests before the kill


def burst_bodies(env: dict[str, str]) -> list[tuple[str, bytes]]:
    """(event id, signed request) for each event: CUSTOMERS customers writing DMs in turn (one
    conversation, one ticket each)."""
    fake_x = Sandbox(load_settings(None, env), None).x
    people = [
        Customer(str(2_200_000_000_000_000_000 + i), f"client_{i}", f"Client {i}") for i in range(CUSTOMERS)
    ]
    requests = []
    for n in range(BURST):
        body = fake_x.customer_dm(people[n % CUSTOMERS], f"message {n} : ma carte est bloquée")
        data = json.dumps(body).encode()
        head = (
            f"POST /webhooks/x HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            f"{SIGNATURE_HEADER}: {sign(CONSUMER_SECRET, data)}\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode()
        requests.append((body["direct_message_events"][0]["id"], head + data))
    return requests


async def send_all(port: int, requests: list[tuple[str, bytes]], process: subprocess.Popen[str]) -> set[str]:
    """Send the burst over keep-alive connections; kill -9 the server once KILL_AFTER were answered.
    Returns the event ids answered 2xx."""
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    acknowledged: set[str] = set()

    async def connection() -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        try:
            while not queue.empty():
                event_id, raw = queue.get_nowait()
                writer.write(raw)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: (\d+)", head)[1])  # type: ignore[index]
                await reader.readexactly(length)
                if head.split(b" ")[1].startswith(b"2"):
                    acknowledged.add(event_id)
                if len(acknowledged) == KILL_AFTER:
                    process.send_signal(signal.SIGKILL)
        except (OSError, asyncio.IncompleteReadError):
            return  # the server died under us: what was answered counts, nothing else
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return acknowledged


@pytest.mark.asyncio
async def test_kill_9_during_a_burst_loses_no_acknowledged_event_and_doubles_none(
    tmp_path: Path, gateways: list[Gateway]
) -> None:
    port = free_port()
    database_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    env = gateway_env(
        database_url, SAV_BRIDGE_SANDBOX="true", SAV_BRIDGE_SERVER__HOST="127.0.0.1",
        SAV_BRIDGE_SERVER__PORT=str(port), SAV_BRIDGE_WORKERS__COUNT="0",
    )  # fmt: skip
    requests = burst_bodies(env)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAV_BRIDGE_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "sav_bridge.cli", "serve"],
        env={**clean, **env},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "serve.log").open("w"),
        text=True,
    )  # fmt: skip (its log goes to a file: a pipe nobody reads would fill and block it)
    try:
        wait_until_served(port, process)
        acknowledged = await send_all(port, requests, process)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert KILL_AFTER <= len(acknowledged) < BURST, len(acknowledged)  # killed mid-burst, with work in flight

    restarted = await open_gateway(database_url, None)
    gateways.append(restarted)
    await restarted.settle()
    delivered = Counter(
        match[1]
        for ticket in restarted.zendesk.tickets.values()
        for comment in restarted.zendesk.comments[ticket["id"]]
        for match in [re.search(r"message (\d+) :", comment["body"])]
        if match and comment["public"]
    )
    by_event = {event_id: str(n) for n, (event_id, _) in enumerate(requests)}
    assert all(delivered[by_event[e]] == 1 for e in acknowledged), "an acknowledged event was lost"
    assert max(delivered.values()) == 1, "an event reached the helpdesk twice"
    assert len(restarted.zendesk.tickets) == CUSTOMERS  # one conversation each, however many messages


@pytest.mark.asyncio
async def test_a_ticket_created_by_a_killed_worker_is_not_created_again(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir, wrap=("POST", r"/api/v2/tickets(\.json)?", 1, Killed()))
    gateways.append(gw)
    body = gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée depuis ce matin")
    assert (await gw.post_x(body)).status_code == 200
    with pytest.raises(Killed):
        await gw.drain()
    assert len(gw.zendesk.tickets) == 1  # Zendesk created it; the process died before hearing so
    fresh = await restart_after_kill(gw, gateways, vendor_dir)
    [ticket] = fresh.zendesk.tickets.values()
    [message] = fresh.zendesk.public_comments(ticket["id"])
    assert "ma carte est bloquée depuis ce matin" in message["body"]
    assert set(await fresh.runtime.store.jobs_by_state()) == {"done"}
