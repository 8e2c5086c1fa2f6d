"""Durable signed ingest of `POST /webhooks/x` against a bare Starlette endpoint, in one run.

`make bench` (or `python -m bench.ingest_throughput`) starts two servers under the same uvicorn settings
as `sav-bridge serve` (`sav_bridge.cli.uvicorn_config`): a bare Starlette app whose only route reads the
body and answers 200, and the gateway itself (`sav-bridge serve`, sandbox configuration, its workers
running and delivering to the helpdesk fake). The same client drives both with the same signed X
webhook bodies (one mention each, as X signs them), then prints:

- events/s of each at a fixed concurrency, and the ratio (target ≥ 0.6; machines here are noisy, the
  ratio is what compares between runs), with the CPU each server process used and the ratio of events
  per CPU-second (what a client too slow to saturate the bare server cannot inflate);
- p50/p99/max latency of the gateway at a fixed 500 events/s, an open loop that counts from when each
  request was due, not when it went out (targets: p99 < 50 ms on SQLite, < 100 ms on PostgreSQL);
- the gateway's memory under that load: each process's RSS, and the PSS of its processes together,
  what the replica holds (target < 150 MB);
- that every answered event is in the database (a 2xx means durable).

The client is a minimal HTTP/1.1 keep-alive loop over asyncio streams sending prepared bytes (httpx costs
more per request than the bare server does, so it would measure itself). SQLite always; PostgreSQL as
well with `--database-url` or `SAV_BRIDGE_TEST_DATABASE_URL` (a schema of its own, dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

TARGET_RATIO = 0.6
TARGET_P99_MS = {"sqlite": 50.0, "postgresql": 100.0}
TARGET_RSS_MB = 150.0
ACCOUNT_ID = "1500000000000000001"
SCREEN_NAME = "MaBanque"
CONSUMER_SECRET = "bench-consumer-secret"
PG_ENV = "SAV_BRIDGE_TEST_DATABASE_URL"


# -- the servers ---------------------------------------------------------------------------------
def bare_app() -> object:
    """The baseline: a Starlette app that reads the body and answers 200, nothing else."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def webhook(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"ok": True})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/webhooks/x", webhook, methods=["POST"]), Route("/healthz", health)])


def serve_bare(port: int) -> None:
    import uvicorn

    from sav_bridge.cli import listen, uvicorn_config

    server = uvicorn.Server(uvicorn_config(bare_app()))
    server.run(sockets=[listen("127.0.0.1", port)])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAV_BRIDGE_")}
    env.update(
        {
            "SAV_BRIDGE_DATABASE_URL": database_url,
            "SAV_BRIDGE_SANDBOX": "true",
            "SAV_BRIDGE_HELPDESK": "zendesk",
            "SAV_BRIDGE_X__CONSUMER_SECRET": CONSUMER_SECRET,
            "SAV_BRIDGE_X__ACCOUNT_ID": ACCOUNT_ID,
            "SAV_BRIDGE_X__SCREEN_NAME": SCREEN_NAME,
            "SAV_BRIDGE_X__CONSUMER_KEY": "bench-consumer-key",
            "SAV_BRIDGE_X__ACCESS_TOKEN": f"{ACCOUNT_ID}-bench-access-token",
            "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET": "bench-access-token-secret",
            "SAV_BRIDGE_X__BEARER_TOKEN": "bench-bearer-token",
            "SAV_BRIDGE_ZENDESK__URL": "https://bench.zendesk.com",
            "SAV_BRIDGE_ZENDESK__EMAIL": "api@bench.example",
            "SAV_BRIDGE_ZENDESK__API_TOKEN": "bench-zendesk-token",
            "SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET": "bench-zendesk-secret",
        }
    )
    return env


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    def processes(self) -> list[int]:
        """The server's process, then its children (the gateway's worker process)."""
        return [self.process.pid, *children(self.process.pid)]

    def cpu_seconds(self, pid: int | None = None) -> float:
        """CPU time of `pid`, or of the server's processes together."""
        total = 0.0
        for one in [pid] if pid else self.processes():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def memory(self) -> Memory:
        """Resident memory of each of the server's processes, and their proportional shares together."""
        rss, pss = [], 0.0
        for one in self.processes():
            with contextlib.suppress(OSError):
                rss.append(proc_kb(f"/proc/{one}/status", "VmRSS:") / 1024)
                pss += proc_kb(f"/proc/{one}/smaps_rollup", "Pss:") / 1024
        return Memory(rss, pss)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Memory:
    """RSS counts a page shared by the two processes (the interpreter, OpenSSL, RE2...) in each of them;
    PSS shares it out, so the PSS of the pair is what the replica holds."""

    rss: list[float]
    pss: float


def proc_kb(path: str, field: str) -> int:
    for line in Path(path).read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise OSError(f"no {field} in {path}")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def start(name: str, command: list[str], port: int, env: dict[str, str], log: Path) -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}: see {log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
            if conn.recv(64).startswith(b"HTTP/1.1 200"):
                return server
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{name} did not answer /healthz within 30 s: see {log}")


# -- the bodies ----------------------------------------------------------------------------------
def signed_requests(seed: str) -> Iterator[bytes]:
    """Distinct mentions of the brand as X delivers them (Account Activity), each signed as X signs it,
    as the bytes of one HTTP/1.1 request. One body is made by the X fake; the others change its ids,
    customer and text (made on the fly: a queue of a million bodies would slow the client down)."""
    from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
    from sav_bridge.sandbox import Customer, FakeX

    fake = FakeX(ACCOUNT_ID, SCREEN_NAME, "unused")
    who = Customer("2199999999999999999", "customer_zzzzzzzz", "Customer zzzzzzzz")
    body = fake.customer_post(who, f"@{SCREEN_NAME} ma carte est bloquée depuis ce matin, ref zzzzzzzz")
    tweet = body["tweet_create_events"][0]
    template = json.dumps(body).replace(tweet["id_str"], "{post}").replace(str(tweet["id"]), "{post}")
    template = template.replace("2199999999999999999", "{user}").replace("zzzzzzzz", "{tag}")
    base = int(tweet["id_str"])
    for n in itertools.count():
        user = str(2_100_000_000_000_000_000 + n % 5_000)
        data = (
            template.replace("{post}", str(base + n)).replace("{user}", user).replace("{tag}", f"{seed}{n}")
        ).encode()
        yield (
            "POST /webhooks/x HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
            f"{SIGNATURE_HEADER}: {sign(CONSUMER_SECRET, data)}\r\ncontent-length: {len(data)}\r\n\r\n"
        ).encode() + data


# -- the client ----------------------------------------------------------------------------------
@dataclass
class Tally:
    ok: int = 0
    failed: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


class Connection:
    """One keep-alive connection: send prepared request bytes, read the status and the body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


#: What a keep-alive connection the server closed while it sat idle (uvicorn after 5 s) looks like.
STALE = (asyncio.IncompleteReadError, ConnectionError)


async def send(port: int, conn: Connection | None, request: bytes) -> tuple[Connection, int]:
    """Send on `conn` (a new connection if None); a connection the server closed while idle is replaced
    once, as any HTTP client does (the request never reached the server). Status 0: no answer."""
    fresh = conn is None
    conn = conn or await Connection.open(port)
    try:
        return conn, await conn.send(request)
    except STALE:
        conn.close()
        if fresh:
            return await Connection.open(port), 0
    conn = await Connection.open(port)
    try:
        return conn, await conn.send(request)
    except STALE:
        return conn, 0


def record(tally: Tally, status: int) -> None:
    if 200 <= status < 300:
        tally.ok += 1
    else:
        tally.failed[status] = tally.failed.get(status, 0) + 1


async def closed_loop(port: int, requests: Iterator[bytes], concurrency: int, seconds: float) -> Tally:
    """`concurrency` connections, each sending its next request as soon as the previous is answered."""
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def one() -> None:
        conn = await Connection.open(port)
        try:
            while time.perf_counter() < deadline:
                request = next(requests, None)
                if request is None:
                    return
                conn, status = await send(port, conn, request)
                record(tally, status)
        finally:
            conn.close()

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return tally


async def open_loop(port: int, requests: Iterator[bytes], rate: float, seconds: float) -> Tally:
    """Requests due every 1/`rate` s whatever the answers; latency counts from when each was due."""
    tally = Tally()
    idle: list[Connection] = []
    start_at = time.perf_counter()
    tasks = set()

    async def one(due: float, request: bytes) -> None:
        try:
            conn, status = await send(port, idle.pop() if idle else None, request)
        except OSError:  # refused: counted, never lost in a task nobody awaits
            record(tally, 0)
            return
        tally.latencies.append(time.perf_counter() - due)
        record(tally, status)
        idle.append(conn)

    for n in range(int(rate * seconds)):
        due = start_at + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        request = next(requests, None)
        if request is None:
            break
        task = asyncio.create_task(one(due, request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return tally


# -- the run -------------------------------------------------------------------------------------
@dataclass
class Measure:
    rate: float
    #: CPU of the server's processes together, and of its HTTP process alone, in cores.
    cpu: float
    tally: Tally
    http_cpu: float = 0.0


async def throughput(server: Server, requests: Iterator[bytes], concurrency: int, seconds: float) -> Measure:
    cpu, http_cpu = server.cpu_seconds(), server.cpu_seconds(server.process.pid)
    started = time.perf_counter()
    tally = await closed_loop(server.port, requests, concurrency, seconds)
    elapsed = time.perf_counter() - started
    return Measure(
        tally.ok / elapsed,
        (server.cpu_seconds() - cpu) / elapsed,
        tally,
        (server.cpu_seconds(server.process.pid) - http_cpu) / elapsed,
    )


async def sample_memory(server: Server, stop: asyncio.Event, peak: Memory) -> None:
    """The peak of each process's resident memory, and of the PSS of all of them."""
    while not stop.is_set():
        now = server.memory()
        for n, size in enumerate(now.rss):
            peak.rss[n] = max(peak.rss[n], size)
        peak.pss = max(peak.pss, now.pss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


def wait_for_workers(server: Server, seconds: float = 60.0) -> None:
    """Until the gateway's worker process, if it has one, runs its workers (its first metrics arrived)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", server.port), 2) as conn:
            conn.sendall(b"GET /metrics HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
            text = b""
            while chunk := conn.recv(65536):
                text += chunk
        if b"\nsav_bridge_worker_process_up 1.0" in text or not children(server.process.pid):
            return
        time.sleep(0.2)
    raise SystemExit("the gateway's worker process did not start within 60 s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def stored(database_url: str) -> tuple[int, dict[str, int]]:
    """Events in the database, and jobs by state (what the workers did meanwhile)."""
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url[len("sqlite:///") :])) as conn:
            events = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            jobs = dict(conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
            return events, jobs
    import psycopg

    with psycopg.connect(database_url) as pg:
        row = pg.execute("SELECT COUNT(*) FROM events").fetchone()
        jobs = {str(r[0]): int(r[1]) for r in pg.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")}
        return (int(row[0]) if row else 0), jobs


@contextlib.contextmanager
def database(url: str | None, folder: Path) -> Iterator[str]:
    """The gateway's database: a fresh SQLite file, or a fresh schema in the PostgreSQL at `url`."""
    if not url:
        yield f"sqlite:///{folder / 'sav-bridge.db'}"
        return
    import psycopg

    schema = "bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"machine: {cores} cores{f' ({model})' if model else ''}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def row(name: str, m: Measure) -> str:
    failed = f", {sum(m.tally.failed.values())} refused {m.tally.failed}" if m.tally.failed else ""
    return f"  {name:<28} {m.rate:>8,.0f} events/s  (server CPU {m.cpu:.0%} of a core{failed})"


@dataclass
class Result:
    dialect: str
    latency: Tally
    baseline: Tally
    bare_runs: list[Measure]
    gateway_runs: list[Measure]
    idle: Memory
    peak: Memory
    answered: int
    events: int
    jobs: dict[str, int]


async def measure(args: argparse.Namespace, url: str | None, feed: Iterator[bytes]) -> Result:
    """One run on one database: the gateway on it and a bare baseline, side by side, then what is stored."""
    with tempfile.TemporaryDirectory(prefix="sav-bench-") as tmp, database(url, Path(tmp)) as db_url:
        folder = Path(tmp)
        bare_port, gateway_port = free_port(), free_port()
        bare = start(
            "bare Starlette",
            [sys.executable, "-m", "bench.ingest_throughput", "--serve-bare", str(bare_port)],
            bare_port,
            dict(os.environ),
            folder / "bare.log",
        )
        # The schema made first, as a restart or a deployment's migrate step finds it: a gateway's first
        # start on an empty database also carries alembic (~21 MB) until it restarts.
        migrate = [sys.executable, "-m", "sav_bridge.cli", "migrate"]
        subprocess.run(migrate, env=gateway_env(db_url), capture_output=True, check=True)
        serve = ["serve", "--host", "127.0.0.1", "--port", str(gateway_port)]
        gateway = start(
            "gateway",
            [sys.executable, "-m", "sav_bridge.cli", *serve],
            gateway_port,
            {**gateway_env(db_url), "SAV_BRIDGE_WORKERS__PROCESS": args.workers_process},
            folder / "gateway.log",
        )
        wait_for_workers(gateway)
        idle = gateway.memory()
        answered, peak, stop = 0, Memory([0.0] * len(idle.rss), 0.0), asyncio.Event()
        sampler = asyncio.create_task(sample_memory(gateway, stop, peak))
        try:
            for server in (bare, gateway):  # imports, first connections, first pages
                answered += (await closed_loop(server.port, feed, 8, 1.5)).ok * (server is gateway)
            # Latency first, on a gateway whose workers deliver what arrives (not a backlog of millions).
            answered += (await open_loop(gateway.port, feed, args.rate, 2.0)).ok
            latency = await open_loop(gateway.port, feed, args.rate, args.latency_seconds)
            answered += latency.ok
            baseline = await open_loop(bare.port, feed, args.rate, min(args.latency_seconds, 5.0))
            bare_runs: list[Measure] = []
            gateway_runs: list[Measure] = []
            for _ in range(args.rounds):
                bare_runs.append(await throughput(bare, feed, args.concurrency, args.seconds))
                gateway_runs.append(await throughput(gateway, feed, args.concurrency, args.seconds))
                answered += gateway_runs[-1].tally.ok
        finally:
            stop.set()
            await sampler
            bare.stop()
            gateway.stop()
        events, jobs = stored(db_url)
        if events < answered:
            print((folder / "gateway.log").read_text(errors="replace")[-3000:], file=sys.stderr)
    dialect = "postgresql" if url else "sqlite"
    return Result(dialect, latency, baseline, bare_runs, gateway_runs, idle, peak, answered, events, jobs)


def report(args: argparse.Namespace, r: Result) -> None:
    ratios = [g.rate / b.rate for b, g in zip(r.bare_runs, r.gateway_runs, strict=True)]
    best_bare = max(r.bare_runs, key=lambda m: m.rate)
    best_gateway = max(r.gateway_runs, key=lambda m: m.rate)
    lat = r.latency.latencies
    refused = f"; refused {r.latency.failed}" if r.latency.failed else ""
    print(
        f"[{r.dialect}] latency at {args.rate:g} events/s for {args.latency_seconds:g} s (open loop, from when due):"
    )
    print(
        f"  gateway  p50 {percentile(lat, 0.5) * 1000:5.1f} ms  p99 {percentile(lat, 0.99) * 1000:6.1f} ms  "
        f"max {max(lat) * 1000:6.1f} ms  (target p99 < {TARGET_P99_MS[r.dialect]:g} ms{refused})"
    )
    print(
        f"  bare     p50 {percentile(r.baseline.latencies, 0.5) * 1000:5.1f} ms  "
        f"p99 {percentile(r.baseline.latencies, 0.99) * 1000:6.1f} ms"
    )
    print(
        f"[{r.dialect}] throughput, {args.concurrency} connections, best of {args.rounds} rounds of {args.seconds:g} s:"
    )
    print(row("bare Starlette", best_bare))
    print(row(f"gateway ({r.dialect}, workers on)", best_gateway))
    print(f"  {'':<28} (its HTTP process alone: CPU {best_gateway.http_cpu:.0%} of a core)")
    print(
        f"  ratio {best_gateway.rate / best_bare.rate:.2f} (target ≥ {TARGET_RATIO}); "
        f"per round {', '.join(f'{x:.2f}' for x in ratios)}"
    )
    # A server below a full core was held back by the client (or by the machine's other work): events
    # per CPU-second of each server is the ratio such a run cannot flatter.
    per_cpu = [(g.rate / g.cpu) / (b.rate / b.cpu) for b, g in zip(r.bare_runs, r.gateway_runs, strict=True)]
    print(
        f"  per CPU-second of each server (all its processes): ratio {max(per_cpu):.2f} "
        f"(per round {', '.join(f'{x:.2f}' for x in per_cpu)})"
    )
    if any(g.http_cpu != g.cpu for g in r.gateway_runs):
        per_http = [
            (g.rate / g.http_cpu) / (b.rate / b.cpu) for b, g in zip(r.bare_runs, r.gateway_runs, strict=True)
        ]
        print(
            f"  per CPU-second of the gateway's HTTP process only: ratio {max(per_http):.2f} "
            f"(per round {', '.join(f'{x:.2f}' for x in per_http)})"
        )
    if len(r.idle.rss) > 1:
        print(
            f"[{r.dialect}] gateway resident memory (RSS), once started / peak: HTTP process "
            f"{r.idle.rss[0]:.0f} / {r.peak.rss[0]:.0f} MB; worker process {r.idle.rss[1]:.0f} / "
            f"{r.peak.rss[1]:.0f} MB"
        )
    else:
        print(
            f"[{r.dialect}] gateway resident memory (RSS): {r.idle.rss[0]:.0f} MB once started, peak under "
            f"load {r.peak.rss[0]:.0f} MB"
        )
    print(
        f"[{r.dialect}] the replica (PSS of its processes together): {r.idle.pss:.0f} MB once started, peak "
        f"{r.peak.pss:.0f} MB (target < {TARGET_RSS_MB:g} MB a replica)"
    )
    print(
        f"[{r.dialect}] durable: {r.answered} events answered 2xx, {r.events} in the database; jobs meanwhile: "
        f"{', '.join(f'{n} {state}' for state, n in sorted(r.jobs.items()))}"
    )


async def run(args: argparse.Namespace) -> int:
    """SQLite always; PostgreSQL too when a URL is given."""
    url = args.database_url or os.environ.get(PG_ENV)
    print(machine())
    print(
        "ingest of signed X webhooks (one mention each); gateway: sav-bridge serve, sandbox, workers on; "
        "baseline: bare Starlette under the same uvicorn settings; same client for both"
    )
    feed = signed_requests(uuid.uuid4().hex[:8])
    failed = False
    for target in [None, url] if url else [None]:
        result = await measure(args, target, feed)
        report(args, result)
        failed |= result.events < result.answered
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest_throughput", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", help=f"also measure on this PostgreSQL (default: ${PG_ENV})")
    parser.add_argument("--concurrency", type=int, default=64, help="connections of the throughput rounds")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating bare and gateway")
    parser.add_argument("--rate", type=float, default=500.0, help="events/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="length of the latency phase")
    parser.add_argument(
        "--workers-process", choices=["separate", "inline"], default="separate",
        help="the gateway's workers.process (default: separate, serve's default)",
    )  # fmt: skip
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
