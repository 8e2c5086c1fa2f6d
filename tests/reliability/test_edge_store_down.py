"""While the database cannot commit, /readyz says so (503) and every webhook is answered 503 with
Retry-After, never 2xx (its sender keeps it and retries); when the database is back, the gateway serves
again by itself, with nothing lost and nothing stored twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from sav_bridge.app import create_app
from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import load_settings
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Sandbox
from sav_bridge.store import Store, open_store
from tests.conftest import postgres_schema_url
from tests.harness import CLAIRE, CONSUMER_SECRET, MARC, Clock, Gateway, gateway_env, pass_fault_time


class FailingDatabase:
    """The real database, or, while `down`, what its driver raises when it cannot write: SQLite's
    'disk I/O error', PostgreSQL's refused connection. Everything else is the real one's."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.dialect = real.dialect
        self.down = False

    def _refuse(self) -> None:
        if not self.down:
            return
        if self.dialect == "sqlite":
            raise sqlite3.OperationalError("disk I/O error")
        raise psycopg.OperationalError("connection failed: Connection refused")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        self._refuse()
        async with self.real.transaction() as tx:
            yield tx

    async def write_batch(self, units: Sequence[Any], finish: Any = None) -> Any:  # inbound batches
        self._refuse()
        return await self.real.write_batch(units, finish)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def gateway_on(database_url: str, vendor_dir: Path | None) -> tuple[Gateway, FailingDatabase]:
    """The harness's gateway, over a database that can be made to fail."""
    settings = load_settings(None, gateway_env(database_url))
    clock = Clock()
    opened = await open_store(database_url, clock)  # its schema brought up to date
    failing = FailingDatabase(opened.db)
    sandbox = Sandbox(settings, vendor_dir, clock)
    pass_fault_time(sandbox, clock, settings)
    store = Store(failing, clock)  # type: ignore[arg-type]
    runtime = await Runtime.start(settings, sandbox.transport(), clock, store=store)
    app = create_app(settings, runtime)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    return Gateway(settings, runtime, sandbox, client, clock), failing


@pytest.fixture
async def failing_gateway(
    database_url: str, vendor_dir: Path | None
) -> AsyncIterator[tuple[Gateway, FailingDatabase]]:
    gw, failing = await gateway_on(database_url, vendor_dir)
    yield gw, failing
    failing.down = False
    await gw.client.aclose()
    await gw.runtime.close()


Request = tuple[str, dict[str, str], bytes]


def deliveries(gw: Gateway, n: int) -> list[Request]:
    """A signed mention and a helpdesk notice, as X and the helpdesk send them (and resend them)."""
    body = json.dumps(gw.x.customer_post(CLAIRE if n % 2 else MARC, f"@MaBanque message {n}")).encode()
    mention = {"content-type": "application/json", SIGNATURE_HEADER: sign(CONSUMER_SECRET, body)}
    notice, ring = gw.zendesk.doorbell(1000 + n)
    return [("/webhooks/x", mention, body), ("/webhooks/zendesk", notice, ring)]


async def send(gw: Gateway, requests: list[Request]) -> list[httpx.Response]:
    return [await gw.client.post(path, content=body, headers=headers) for path, headers, body in requests]


async def test_while_the_database_cannot_commit_ingest_answers_503_and_recovers_by_itself(
    failing_gateway: tuple[Gateway, FailingDatabase],
) -> None:
    gw, failing = failing_gateway
    assert (await gw.client.get("/readyz")).status_code == 200
    assert [r.status_code for r in await send(gw, deliveries(gw, 1))] == [200, 200]

    failing.down = True
    ready = await gw.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    pending = [request for n in range(2, 5) for request in deliveries(gw, n)]
    refused = await send(gw, pending)
    assert [r.status_code for r in refused] == [503] * 6  # never 2xx: X and the helpdesk retry
    assert {r.headers["retry-after"] for r in refused} == {"5"}
    assert "retry later" in refused[0].json()["error"]
    scraped = await gw.client.get("/metrics")  # still answers, with what the process counted
    assert scraped.status_code == 200
    assert 'sav_bridge_store_unavailable_total{source="x"} 3.0' in scraped.text
    assert 'sav_bridge_store_unavailable_total{source="zendesk"} 3.0' in scraped.text

    failing.down = False  # the database is back: nothing to restart
    assert (await gw.client.get("/readyz")).status_code == 200
    assert [r.status_code for r in await send(gw, pending)] == [200] * 6  # the senders' retries
    assert await gw.runtime.store.count("events") == 8  # 2 before, 6 retried: each kept once
    again = await send(gw, pending)  # a sender that retries once more changes nothing
    assert [r.status_code for r in again] == [200] * 6
    assert await gw.runtime.store.count("events") == 8


# -- PostgreSQL going away for real -------------------------------------------------------------------------
class Relay:
    """A TCP relay in front of PostgreSQL that can be cut (existing connections dropped, new ones refused)
    and restored on the same port, as a database that restarts or fails over looks to a client."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.links: set[asyncio.StreamWriter] = set()
        self.pipes = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.links):
            writer.transport.abort()
        self.links.clear()
        await self.server.wait_closed()

    async def close(self) -> None:
        """Cut, then wait until every link has ended (none left running past the test)."""
        if self.server is not None and self.server.is_serving():
            await self.cut()
        while self.pipes:
            await asyncio.sleep(0.01)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        self.pipes += 1
        try:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
        finally:
            sink.transport.abort()
            self.links.discard(sink)
            self.pipes -= 1


@pytest.mark.postgres
async def test_postgresql_going_away_for_real_is_503_until_it_is_back(vendor_dir: Path | None) -> None:
    url_iter = postgres_schema_url()
    url = next(url_iter)
    parts = urlsplit(url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.start()
    user = f"{parts.username}@" if parts.username else ""
    relayed = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{relay.port}"))
    gw, _ = await gateway_on(relayed, vendor_dir)
    try:
        assert [r.status_code for r in await send(gw, deliveries(gw, 1))] == [200, 200]
        await relay.cut()
        ready = await asyncio.wait_for(gw.client.get("/readyz"), 10)
        assert ready.status_code == 503
        pending = deliveries(gw, 2)  # a mention and a notice: each waits for a connection in vain
        answers = await asyncio.wait_for(send(gw, pending), 120)
        assert {r.status_code for r in answers} == {503}
        await relay.start()  # back, on the same address
        back = asyncio.get_running_loop().time()
        statuses: set[int] = set()
        while asyncio.get_running_loop().time() - back < 30:  # the senders retry; the pools reconnect
            statuses = {r.status_code for r in await send(gw, pending)}
            if statuses == {200}:
                break
            assert statuses <= {200, 503}
            await asyncio.sleep(0.5)
        assert statuses == {200}, "still refused 30 s after PostgreSQL came back"
        assert (await gw.client.get("/readyz")).status_code == 200
        assert await gw.runtime.store.count("events") == 4  # each once, however many retries
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
        await relay.close()
        with contextlib.suppress(StopIteration):
            next(url_iter)
