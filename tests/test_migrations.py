"""Schema migrations on SQLite and PostgreSQL: from an empty database, from release 0.1.0's schema (its
rows kept), from every revision, under a lock when replicas start together; a newer schema is refused."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext, MigrationStep

from sav_bridge.cli import main
from sav_bridge.errors import SchemaMismatch, Unavailable
from sav_bridge.store import migrations, open_store, upgrade
from sav_bridge.store.database import open_database
from sav_bridge.store.migrations import HEAD, LEGACY_REVISIONS, Migration, migrate
from sav_bridge.store.upgrade import head, scripts
from tests import legacy_schema
from tests.conftest import postgres_schema_url

REVISIONS = [script.revision for script in reversed(list(scripts().walk_revisions()))]
VERSION_TABLES = {"alembic_version", "schema_version"}


def engine(url: str) -> sqlalchemy.Engine:
    if url.startswith("sqlite:///"):
        return sqlalchemy.create_engine(url)
    return sqlalchemy.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(url))


def schema(url: str) -> dict[str, Any]:
    """Tables, columns, keys and indexes (partial ones with their condition), version tables left out; on
    SQLite the statements themselves too, since the revisions repeat release 0.1.0's DDL word for word."""
    e = engine(url)
    try:
        with e.connect() as conn:
            seen = sqlalchemy.inspect(conn)
            found: dict[str, Any] = {}
            for table in sorted(set(seen.get_table_names()) - VERSION_TABLES):
                found[table] = {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                        for c in seen.get_columns(table)
                    ],
                    "primary key": seen.get_pk_constraint(table)["constrained_columns"],
                    "unique": sorted(tuple(u["column_names"]) for u in seen.get_unique_constraints(table)),
                    "indexes": sorted(
                        (
                            i["name"],
                            tuple(i["column_names"]),
                            i["unique"],
                            json.dumps(i.get("dialect_options", {}), default=str, sort_keys=True),
                        )
                        for i in seen.get_indexes(table)
                    ),
                }
            if conn.dialect.name == "sqlite":
                found["ddl"] = sorted(
                    conn.exec_driver_sql(
                        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name NOT IN"
                        " ('alembic_version', 'schema_version', 'sqlite_sequence')"
                    ).all()
                )
            return found
    finally:
        e.dispose()


def revisions_in(url: str) -> list[str]:
    e = engine(url)
    try:
        with e.connect() as conn:
            return sorted(r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version"))
    finally:
        e.dispose()


def has_table(url: str, table: str) -> bool:
    e = engine(url)
    try:
        with e.connect() as conn:
            return sqlalchemy.inspect(conn).has_table(table)
    finally:
        e.dispose()


def downgrade(url: str, to: str) -> None:
    """Alembic's own downgrade, for the tests: every revision's `downgrade()` down to `to` ("base": none)."""
    e = engine(url)
    try:
        with e.begin() as conn:

            def steps(heads: tuple[str, ...], _: MigrationContext) -> list[MigrationStep]:
                found = scripts().iterate_revisions(heads, to, inclusive=False, implicit_base=True)
                return [MigrationStep.downgrade_from_script(scripts().revision_map, s) for s in found]

            context = MigrationContext.configure(conn, opts={"script": scripts(), "fn": steps})
            with Operations.context(context):
                context.run_migrations()
    finally:
        e.dispose()


@pytest.fixture
def fresh(database_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The schema of another database of the same kind, built by the revisions from empty."""
    if database_url.startswith("sqlite:///"):
        other = f"sqlite:///{tmp_path / 'fresh.db'}"
        asyncio.run(_open_and_close(other))
        yield schema(other)
    else:
        for other in postgres_schema_url():
            asyncio.run(_open_and_close(other))
            yield schema(other)


async def _open_and_close(url: str) -> None:
    store = await open_store(url)
    await store.close()


async def _migrate(url: str) -> Migration:
    db = await open_database(url)
    try:
        return await migrate(db, url)
    finally:
        await db.close()


#: Rows release 0.1.0 could have left in each of its tables (its columns, its spelling).
LEGACY_ROWS = [
    "INSERT INTO events (source, event_id, kind, payload, received_at) VALUES ('x', 'e1', 'mention', '{}', 1.5)",
    "INSERT INTO quarantine (source, digest, reason, body, received_at) VALUES ('x', 'd1', 'bad json', '{', 2)",
    "INSERT INTO jobs (kind, payload, idempotency_key, ordering_key, next_attempt_at, created_at, updated_at)"
    " VALUES ('x.mention', '{\"event\": \"e1\"}', 'x:e1', 'conv-1', 0, 1, 1)",
    "INSERT INTO effects (key, value, created_at) VALUES ('k1', '\"ticket-7\"', 3)",
    "INSERT INTO conversations (thread_key, channel, audience, customer_id, helpdesk, ticket_id, created_at,"
    " updated_at) VALUES ('x:1', 'x', 'public', 'u1', 'zendesk', '7', 1, 1)",
    "INSERT INTO message_links (channel, social_id, thread_key, direction, created_at)"
    " VALUES ('x', '100', 'x:1', 'in', 1)",
    "INSERT INTO audit (at, kind, subject, detail) VALUES (1, 'post', 'x:1', '{}')",
    "INSERT INTO state (name, value, updated_at) VALUES ('x.cursor', '\"42\"', 1)",
    "INSERT INTO secrets (name, ciphertext, updated_at) VALUES ('x.oauth2', 'gAAAA-sealed', 1)",
    "INSERT INTO usage (day, kind, requests) VALUES ('2026-11-24', 'post', 3)",
    "INSERT INTO usage_seen (day, kind, resource) VALUES ('2026-11-24', 'user', 'u1')",
    "INSERT INTO policy_versions (yaml, author, comment, status, created_at) VALUES ('version: 1', 'a', 'c',"
    " 'active', 1)",
    "INSERT INTO admin_log (at, actor, action, target, address, detail) VALUES (1, 'a', 'activate', 'p1',"
    " '127.0.0.1', '{}')",
    "INSERT INTO approvals (helpdesk, ticket_id, comment_id, agent, audience, rules, policy_version, payload,"
    " status, created_at) VALUES ('zendesk', '7', 'c1', 'Ann', 'public', '[]', '1', '{}', 'pending', 1)",
]


def write(url: str, statements: list[str]) -> None:
    e = engine(url)
    try:
        with e.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        e.dispose()


def count_rows(url: str, tables: list[str]) -> dict[str, int]:
    e = engine(url)
    try:
        with e.connect() as conn:
            return {t: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar_one() for t in tables}
    finally:
        e.dispose()


async def test_an_empty_database_gets_every_revision_once(database_url: str, fresh: dict[str, Any]) -> None:
    assert [r.id for r in (await _migrate(database_url)).applied] == REVISIONS
    assert revisions_in(database_url) == [head()]
    assert (await _migrate(database_url)).applied == ()
    assert schema(database_url) == fresh


async def test_a_database_of_release_0_1_0_is_adopted_and_upgraded_with_its_rows(
    database_url: str, fresh: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    legacy_schema.create(database_url)
    write(database_url, LEGACY_ROWS)
    tables = [statement.split()[2] for statement in LEGACY_ROWS]
    before = count_rows(database_url, tables)
    assert set(before.values()) == {1}

    with caplog.at_level(logging.INFO, logger="sav_bridge.store.migrations"):
        store = await open_store(database_url)
    try:
        assert [r.getMessage().split(" (applied")[0] for r in caplog.records] == [
            f"database schema upgraded from 0006 (version 6 of release 0.1.0) to {head()}"
        ]
        assert revisions_in(database_url) == [head()]
        assert not has_table(database_url, "schema_version")
        assert schema(database_url) == fresh
        assert count_rows(database_url, tables) == before
        # The rows read back through today's code.
        job = await store.claim(60)
        assert job is not None and job.idempotency_key == "x:e1" and job.payload == {"event": "e1"}
        assert await store.effect("k1") == "ticket-7"
        assert (await store.message_link("x", "100") or {})["thread_key"] == "x:1"
        assert await store.state.get("x.cursor") == "42"
        assert await store.policies.active_id() == 1
    finally:
        await store.close()


@pytest.mark.parametrize("version", sorted(LEGACY_REVISIONS)[:-1])
async def test_every_version_of_release_0_1_0_is_stamped_at_its_revision_then_upgraded(
    sqlite_url: str, tmp_path: Path, version: int
) -> None:
    legacy_schema.create(sqlite_url, upto=version)
    write(sqlite_url, LEGACY_ROWS[:2])  # events and quarantine exist from version 1
    migration = await _migrate(sqlite_url)
    assert migration.legacy_version == version
    assert [r.id for r in migration.applied] == REVISIONS[version:]
    expected = f"sqlite:///{tmp_path / 'fresh.db'}"
    await _open_and_close(expected)
    assert schema(sqlite_url) == schema(expected)
    assert count_rows(sqlite_url, ["events", "quarantine"]) == {"events": 1, "quarantine": 1}


async def test_a_database_at_any_earlier_revision_upgrades_to_the_same_schema(
    database_url: str, fresh: dict[str, Any]
) -> None:
    """Where the next release's upgrade starts: this one's head, or any revision before it (each
    revision's downgrade is exercised on the way)."""
    await _migrate(database_url)
    for index in range(len(REVISIONS) - 1, -1, -1):
        earlier = REVISIONS[index - 1] if index else "base"
        downgrade(database_url, earlier)
        assert revisions_in(database_url) == ([] if earlier == "base" else [earlier])
        migration = await _migrate(database_url)
        assert [r.id for r in migration.applied] == REVISIONS[index:]
        assert schema(database_url) == fresh


async def test_replicas_starting_together_apply_each_revision_once(database_url: str) -> None:
    dbs = [await open_database(database_url) for _ in range(4)]
    try:
        # Each sees an empty database before any takes the lock; the lock makes them take turns.
        migrations = await asyncio.gather(*(migrate(db, database_url) for db in dbs))
    finally:
        for db in dbs:
            await db.close()
    applied = sorted(r.id for m in migrations for r in m.applied)
    assert applied == REVISIONS
    assert sum(1 for m in migrations if m.applied) == 1
    assert revisions_in(database_url) == [head()]


async def test_a_schema_newer_than_the_code_is_refused_and_left_alone(
    database_url: str,
    fresh: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _migrate(database_url)
    write(database_url, ["UPDATE alembic_version SET version_num = '9001'"])
    with pytest.raises(SchemaMismatch, match="schema revision 9001 is newer than this release knows"):
        await open_store(database_url)
    for name in [n for n in os.environ if n.startswith("SAV_BRIDGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SAV_BRIDGE_DATABASE_URL", database_url)
    assert await asyncio.to_thread(main, ["migrate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sav-bridge: database: schema revision 9001 is newer")
    assert "restore the backup" in err
    assert revisions_in(database_url) == ["9001"]
    assert schema(database_url) == fresh


async def test_migrate_says_where_the_schema_is_and_what_it_applied(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("SAV_BRIDGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SAV_BRIDGE_DATABASE_URL", sqlite_url)
    legacy_schema.create(sqlite_url, upto=4)

    assert await asyncio.to_thread(main, ["migrate", "--dry-run"]) == 0
    dry = capsys.readouterr().out.splitlines()
    assert dry[:2] == ["current revision: 0004 (version 4 of the schema_version table before alembic)",
                       f"target revision: {head()}"]  # fmt: skip
    assert [line.split(":")[0] for line in dry[2:]] == [f"would apply {r}" for r in REVISIONS[4:]]
    assert has_table(sqlite_url, "schema_version") and not has_table(sqlite_url, "alembic_version")

    assert await asyncio.to_thread(main, ["migrate"]) == 0
    done = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in done[2:]] == [f"applied {r}" for r in REVISIONS[4:]]
    assert (
        done[2]
        == "applied 0005: Every change made through the compliance API: who, what, when, from which address."
    )

    assert await asyncio.to_thread(main, ["migrate"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"current revision: {head()}",
        f"target revision: {head()}",
        "nothing to apply: the schema is up to date",
    ]


@pytest.mark.postgres
async def test_a_revision_waiting_for_a_busy_table_gives_up_instead_of_queueing_everyone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for url in postgres_schema_url():
        await _migrate(url)
        downgrade(url, REVISIONS[-2])
        monkeypatch.setattr(upgrade, "LOCK_TIMEOUT", 0.3)
        # Another transaction holds the version table every migration writes.
        with psycopg.connect(url) as busy:
            busy.execute("LOCK TABLE alembic_version IN EXCLUSIVE MODE")  # reads pass, writes wait
            with pytest.raises(Unavailable, match=r"stayed in use for 0\.3 s \(lock timeout\); nothing was"):
                await _migrate(url)
        assert revisions_in(url) == [REVISIONS[-2]]
        assert [r.id for r in (await _migrate(url)).applied] == REVISIONS[-1:]


def test_the_revisions_ship_in_the_package() -> None:
    """setuptools ships the .py files of packages only, and the data files pyproject names: the image finds
    its revisions in site-packages, never in a source folder."""
    root = Path(migrations.__file__).parent / "revisions"
    assert (root / "__init__.py").is_file() and (root / "versions" / "__init__.py").is_file()
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert "store/revisions/script.py.mako" in pyproject["tool"]["setuptools"]["package-data"]["sav_bridge"]
    assert set(pyproject["tool"]["setuptools"]["packages"]["find"]["include"]) == {"sav_bridge*"}


def test_the_quick_check_knows_the_newest_revision() -> None:
    """`open_store` skips alembic when the database is at `HEAD`: a revision added without moving it would
    send every start through alembic (slower, ~21 MB more), or worse, one moved too far would never match."""
    assert HEAD == head() == REVISIONS[-1]
