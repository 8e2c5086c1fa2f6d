"""Resident memory of `sav-bridge serve`, stage by stage (issue 11: under 150 MB per replica).

`python -m bench.startup_memory [--trace N] [--vendor-dir DIR] [--fresh]` measures, in fresh processes, a
production configuration (a real helpdesk URL, no fakes, SQLite) and the sandbox one the ingest benchmark's
gateway runs (X and Zendesk fakes in process, the vendors' OpenAPI documents loaded to check our requests).
`serve` is two processes (`workers.process: separate`): for each, the steps it takes at start are run one
at a time and the resident set size (VmRSS, /proc/self/status) printed after each, with the growth and the
libraries each step imported:

- the HTTP process: `sav_bridge.cli.serve`'s steps, then the app's lifespan, which starts the worker
  process (the child's own figure read from /proc once its workers run);
- the worker process: `sav_bridge.worker_process.work`'s steps, the posting policy apart.

The database is migrated first by `sav-bridge migrate`, as a restart (or a deployment's migrate step)
finds it; `--fresh` starts on an empty one instead, the first start of a release, which also carries
alembic. Nothing is served and no network is used: each runtime is started and closed again.

RSS counts the shared libraries a process touched (OpenSSL, libpq, RE2) in each process; PSS, printed for
the whole replica, shares them out, so the sum is what the machine holds. With `--trace N` each stage also
runs under tracemalloc (slow, minutes; RSS is then higher) and prints the N places whose allocations it
kept, grouped by the outermost library, or else the innermost gateway line, on the stack.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def process_mb(pid: int, field: str = "VmRSS:") -> float:
    """A process's resident set (`VmRSS:`) or its proportional share (`Pss:`, smaps_rollup), in MB."""
    name = "status" if field == "VmRSS:" else "smaps_rollup"
    with open(f"/proc/{pid}/{name}") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


START_MB = rss_mb()  # before anything below is imported: the interpreter alone

import argparse  # noqa: E402  (after the interpreter's own figure)
import asyncio  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

#: Libraries worth naming when a stage imports them (the heavy ones, and those meant to stay lazy).
WATCHED = (
    "alembic",
    "sqlalchemy",
    "mako",
    "psycopg",
    "psycopg_pool",
    "aiosqlite",
    "jinja2",
    "jose",
    "authlib",
    "oauthlib",
    "cryptography",
    "twitter_text",
    "pkg_resources",
    "phonenumbers",
    "stdnum",
    "re2",
    "ahocorasick",
    "confusable_homoglyphs",
    "jsonschema",
    "fastjsonschema",
    "yaml",
    "httpx",
    "rich",
    "pygments",
    "click",
    "uvicorn",
    "starlette",
    "prometheus_client",
    "tenacity",
    "hypothesis",
    "schemathesis",
)

ACCOUNT_ID = "1000000001"


def environment(sandbox: bool, database_url: str, vendor_dir: Path | None) -> dict[str, str]:
    """A complete configuration from the environment alone (as the ingest benchmark's gateway has)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAV_BRIDGE_")}
    env.update(
        {
            "SAV_BRIDGE_DATABASE_URL": database_url,
            "SAV_BRIDGE_SANDBOX": "true" if sandbox else "false",
            "SAV_BRIDGE_HELPDESK": "zendesk",
            "SAV_BRIDGE_X__CONSUMER_SECRET": "bench-consumer-secret",
            "SAV_BRIDGE_X__ACCOUNT_ID": ACCOUNT_ID,
            "SAV_BRIDGE_X__SCREEN_NAME": "BenchBrand",
            "SAV_BRIDGE_X__CONSUMER_KEY": "bench-consumer-key",
            "SAV_BRIDGE_X__ACCESS_TOKEN": f"{ACCOUNT_ID}-bench-access-token",
            "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET": "bench-access-token-secret",
            "SAV_BRIDGE_ZENDESK__URL": "https://bench.zendesk.com",
            "SAV_BRIDGE_ZENDESK__EMAIL": "api@bench.example",
            "SAV_BRIDGE_ZENDESK__API_TOKEN": "bench-zendesk-token",
            "SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET": "bench-zendesk-secret",
        }
    )
    if sandbox:
        env["SAV_BRIDGE_X__BEARER_TOKEN"] = "bench-bearer-token"
    if vendor_dir is not None:
        env["SAV_BRIDGE_VENDOR_DIR"] = str(vendor_dir)
    return env


# -- the child: one configuration, stage by stage ----------------------------------------------------


class Stages:
    """Runs each stage, then records RSS, its growth, the watched libraries it imported and (traced)
    where its allocations came from."""

    def __init__(self, trace: int) -> None:
        self.trace = trace
        self.rows: list[dict[str, Any]] = [{"stage": "python", "rss": START_MB, "imported": [], "top": []}]
        self.seen = set(sys.modules)

    def run(self, name: str, step: Callable[[], Any]) -> Any:
        if self.trace:
            tracemalloc.start(FRAMES)  # this stage's allocations only, those still alive at its end
        result = step()
        top: list[tuple[str, float]] = []
        if self.trace:
            top = grouped(tracemalloc.take_snapshot())[: self.trace]
            tracemalloc.stop()
        now = set(sys.modules)
        imported = [m for m in WATCHED if m in now - self.seen]
        self.seen = now
        self.rows.append({"stage": name, "rss": rss_mb(), "imported": imported, "top": top})
        return result


#: Stack depth kept by tracemalloc: enough to reach the gateway's module from inside a library.
FRAMES = 40


def grouped(snapshot: tracemalloc.Snapshot) -> list[tuple[str, float]]:
    """Live allocations by the outermost library (or, with none, the innermost gateway module) on their
    stack: what a lazy import of that library, or a change in that module, would save."""
    sizes: dict[str, int] = {}
    owners: dict[Any, str] = {}
    for _domain, size, frames, *_ in snapshot.traces._traces:  # raw tuples: Trace objects are far slower
        place = owners.get(frames)
        if place is None:
            place = owners[frames] = owner(frames)
        sizes[place] = sizes.get(place, 0) + size
    ranked = sorted(sizes.items(), key=lambda item: -item[1])
    return [(name, size / 2**20) for name, size in ranked]


def owner(frames: tuple[tuple[str, int], ...]) -> str:
    gateway = library = None
    for filename, lineno in frames:  # innermost first
        if "site-packages/" in filename and "__editable__" not in filename:
            library = filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        elif "/sav_bridge/" in filename and gateway is None:
            module = "sav_bridge/" + filename.rsplit("/sav_bridge/", 1)[1].removesuffix(".py")
            gateway = f"{module.replace('/', '.')}:{lineno}"
    return library or gateway or "python"


def http_process(stages: Stages) -> None:
    """`serve`'s steps (`sav_bridge.cli.serve`), then its app's lifespan with the worker process."""
    stages.run("import sav_bridge.cli", lambda: importlib.import_module("sav_bridge.cli"))
    from sav_bridge import cli, logs
    from sav_bridge.config import load_settings

    settings = stages.run("settings", lambda: load_settings(None, os.environ))
    logs.configure("WARNING", settings.secrets())
    serve_imports = ("uvicorn", "sav_bridge.shutdown", "sav_bridge.app", "sav_bridge.policy")
    stages.run("serve's imports (app, uvicorn)", lambda: [importlib.import_module(m) for m in serve_imports])
    from sav_bridge.app import create_app
    from sav_bridge.helpdesks import load_helpdesk
    from sav_bridge.policy.live import PolicyFile
    from sav_bridge.worker_process import child_command

    stages.run("helpdesk plugin", lambda: load_helpdesk(settings.helpdesk))
    # The workers apart, this process validates the policy and compiles it only on demand.
    policy = stages.run("posting policy validated", lambda: PolicyFile.read(settings.policy_path))
    stages.run("store opened (schema checked)", lambda: asyncio.run(cli.preflight(settings)))
    transport = None
    if settings.sandbox:
        from sav_bridge.sandbox import Sandbox

        vendor_dir = cli.vendor_dir_from_env(os.environ)
        sandbox = stages.run("sandbox, vendor specs", lambda: Sandbox(settings, vendor_dir))
        transport = sandbox.transport()
    command = child_command(None)
    app = stages.run(
        "app built",
        lambda: create_app(
            settings,
            transport=transport,
            policy=policy,
            worker_command=command,
            serving=True,
            policy_on_demand=True,
        ),
    )
    asyncio.run(started(app, stages))


async def started(app: Any, stages: Stages) -> None:
    """The app's lifespan, as uvicorn runs it: the runtime starts (store, clients, the worker process),
    then stops; the child's memory is read once its workers run (its first metrics arrived)."""
    async with app.router.lifespan_context(app):
        apart = app.state.runtime.apart
        for _ in range(600):
            if apart is None or apart.metrics is not None:
                break
            await asyncio.sleep(0.05)
        stages.run("lifespan: runtime started", lambda: None)
        if apart is not None and apart.process is not None:
            pid = apart.process.pid
            both = process_mb(os.getpid(), "Pss:") + process_mb(pid, "Pss:")
            stages.rows.append(
                {"stage": "worker process (child), started", "rss": process_mb(pid), "other": True}
            )
            stages.rows.append({"stage": "replica, PSS of both processes", "rss": both, "other": True})


def worker_process(stages: Stages) -> None:
    """`sav_bridge.worker_process.work`'s steps, the posting policy apart from the runtime it is part of."""
    stages.run("import sav_bridge.runtime", lambda: importlib.import_module("sav_bridge.runtime"))
    from sav_bridge import logs
    from sav_bridge.cli import vendor_dir_from_env
    from sav_bridge.config import load_settings
    from sav_bridge.policy import Policy
    from sav_bridge.runtime import Runtime

    settings = stages.run("settings", lambda: load_settings(None, os.environ))
    logs.configure("WARNING", settings.secrets())
    transport = None
    if settings.sandbox:
        from sav_bridge.sandbox import Sandbox

        vendor_dir = vendor_dir_from_env(os.environ)
        transport = stages.run("sandbox, vendor specs", lambda: Sandbox(settings, vendor_dir)).transport()
    policy = stages.run("posting policy built", lambda: Policy.from_file(settings.policy_path))

    async def run() -> None:
        runtime = await Runtime.start(settings, transport=transport, policy=policy)
        stages.run("runtime started", lambda: None)
        runtime.start_workers(role="work")
        await asyncio.sleep(0.5)  # the workers' first claims
        stages.run("workers running", lambda: None)
        stages.run("start-up's freed heap given back", settle)
        await runtime.close()

    asyncio.run(run())


def settle() -> None:
    """What `work` does once its workers run: start-up's objects frozen, the C heap's free pages returned."""
    from sav_bridge import heap

    gc.collect()
    gc.freeze()
    heap.give_back()


ROLES = {"http": http_process, "work": worker_process}


def child(role: str, trace: int) -> None:
    stages = Stages(trace)
    ROLES[role](stages)
    print(json.dumps(stages.rows))


# -- the parent: both configurations, both processes ---------------------------------------------


def measure(
    sandbox: bool, role: str, trace: int, vendor_dir: Path | None, fresh: bool
) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="sav-memory-") as tmp:
        env = environment(sandbox, f"sqlite:///{Path(tmp) / 'sav-bridge.db'}", vendor_dir)
        if not fresh:
            migrate = [sys.executable, "-m", "sav_bridge.cli", "migrate"]
            subprocess.run(migrate, env=env, capture_output=True, check=True)
        command = [sys.executable, "-m", "bench.startup_memory", "--child", role, "--trace", str(trace)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the {'sandbox' if sandbox else 'production'} {role} run failed:\n{done.stderr}")
    rows: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


def report(name: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{name}")
    print(f"  {'stage':<34} {'RSS':>8} {'growth':>8}  imported")
    previous = None
    for r in rows:
        other = r.get("other", False)
        growth = "" if previous is None or other else f"{r['rss'] - previous:+.1f}"
        print(f"  {r['stage']:<34} {r['rss']:>6.1f} MB {growth:>8}  {' '.join(r.get('imported', ()))}")
        for place, size in r.get("top", ()):
            print(f"  {'':<36}{size:>6.1f} MB  {place}")
        previous = previous if other else r["rss"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", type=int, default=0, metavar="N", help="tracemalloc: N places per stage")
    parser.add_argument(
        "--vendor-dir", type=Path, help="the vendors' specs (default: $SAV_BRIDGE_VENDOR_DIR)"
    )
    parser.add_argument("--fresh", action="store_true", help="start on an empty database (a first start)")
    parser.add_argument("--child", choices=ROLES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.trace)
        return
    vendor_dir = args.vendor_dir or (Path(v) if (v := os.environ.get("SAV_BRIDGE_VENDOR_DIR")) else None)
    if vendor_dir is None:
        default = Path(__file__).resolve().parents[2] / "shared" / "vendor"  # where `serve` looks too
        vendor_dir = default if default.is_dir() else None
    schema = "an empty database" if args.fresh else "a database already migrated"
    print(f"sav-bridge serve: resident memory by stage (target < 150 MB a replica), on {schema}")
    print(f"vendor specs: {vendor_dir}")
    for sandbox, name in ((False, "production configuration"), (True, "sandbox configuration")):
        for role, process in (("http", "HTTP process (serve)"), ("work", "worker process, its own stages")):
            report(f"{name}: {process}", measure(sandbox, role, args.trace, vendor_dir, args.fresh))


if __name__ == "__main__":
    main()
