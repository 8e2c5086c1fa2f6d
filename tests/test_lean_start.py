"""What a started gateway carries: libraries only some paths need stay out of its memory until then
(bench/startup_memory.py measures what each costs). A test fails when someone imports one eagerly again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sav_bridge.store import open_store

#: Never imported by `serve` (either process) on a database already at the newest revision.
NOT_AT_START = {
    "alembic": "store.upgrade: only when the schema is not at the head (21 MB with SQLAlchemy)",
    "sqlalchemy": "store.upgrade, as alembic",
    "pkg_resources": "channels.x.text_parser: twitter_text without it (7 MB)",
}
#: Never imported on SQLite.
NOT_ON_SQLITE = {
    "psycopg": "store.postgres: only for a PostgreSQL database_url (~10 MB with psycopg_pool)",
    "psycopg_pool": "store.postgres, as psycopg",
}

STARTED = """
import asyncio, json, sys
import sav_bridge.cli, sav_bridge.app, sav_bridge.runtime, sav_bridge.worker_process
from sav_bridge.channels.x.text import weighted_length
from sav_bridge.edge import store_failures
from sav_bridge.store import open_store

async def start():
    store = await open_store(sys.argv[1])
    await store.close()
    store_failures(sys.argv[1])  # what the app answers 503

asyncio.run(start())
print(json.dumps({"modules": sorted(sys.modules), "emoji weight": weighted_length("\\N{GRINNING FACE}")}))
"""


async def test_a_start_on_a_current_schema_imports_neither_alembic_nor_pkg_resources_nor_psycopg_on_sqlite(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    await (await open_store(url)).close()  # migrated, as any start but a release's first finds it
    done = subprocess.run([sys.executable, "-c", STARTED, url], capture_output=True, text=True, check=True)
    started = json.loads(done.stdout)
    loaded = {name.partition(".")[0] for name in started["modules"]}
    assert {name: why for name, why in NOT_AT_START.items() if name in loaded} == {}
    assert {name: why for name, why in NOT_ON_SQLITE.items() if name in loaded} == {}
    assert started["emoji weight"] == 2  # twitter_text read its emoji table through the stand-in
