"""Running alembic: the slow path of `store.migrations`, imported only when the schema is not at the head
(or for `sav-bridge migrate`). alembic and SQLAlchemy cost ~21 MB of a process's memory, which a gateway
that starts on a current schema (every start but the first of a release) does not need to carry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import sqlalchemy
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext, MigrationInfo, MigrationStep, RevisionStep
from alembic.script import Script, ScriptDirectory
from sqlalchemy.pool import NullPool

from sav_bridge.errors import ConfigError, SchemaMismatch, Unavailable
from sav_bridge.store.migrations import LEGACY_REVISIONS, LEGACY_TABLE, Migration, Revision

#: The advisory lock's key, the same as the runner before alembic took: an old and a new replica starting
#: together during a rolling upgrade take turns too.
LOCK_KEY = 7283451
#: How long a SQLite migration waits for another writer before giving up (seconds).
SQLITE_WAIT = 30.0
#: How long a PostgreSQL revision waits for a table that running replicas hold (seconds). Past it the
#: migration gives up and start-up stops (exit 3, the orchestrator starts it again) rather than leave
#: every query on that table queued behind its request while it waits.
LOCK_TIMEOUT = 10.0
LOCK_NOT_AVAILABLE = "55P03"


@cache
def scripts() -> ScriptDirectory:
    """The revisions, read once per process."""
    return ScriptDirectory(str(Path(__file__).with_name("revisions")))


def head() -> str:
    """The newest revision this code knows."""
    found = scripts().get_current_head()
    if found is None:  # a packaging mistake, never a state of the database
        raise RuntimeError("no schema revision found in sav_bridge/store/revisions/versions")
    return found


def upgrade(url: str, dry_run: bool) -> Migration:
    """One transaction under the lock: adopt a database from before alembic, refuse one from the future,
    apply what is missing; a dry run reads the same and rolls back."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{round(LOCK_TIMEOUT * 1000)}ms'")
                migration = _apply(conn, dry_run)
            except BaseException:
                tx.rollback()
                raise
            if dry_run:
                tx.rollback()
            else:
                tx.commit()
            return migration
    except sqlalchemy.exc.OperationalError as exc:
        raise _unavailable(exc) from None
    finally:
        engine.dispose()


def _apply(conn: sqlalchemy.Connection, dry_run: bool) -> Migration:
    applied: list[Revision] = []

    def record(*, step: MigrationInfo, **_: Any) -> None:
        applied.append(_revision(step.up_revision_id or ""))

    def steps(heads: Sequence[str], _: MigrationContext) -> list[RevisionStep]:
        return [MigrationStep.upgrade_from_script(scripts().revision_map, s) for s in _pending(heads)]

    context = MigrationContext.configure(
        conn, opts={"script": scripts(), "fn": steps, "on_version_apply": [record]}
    )
    current = context.get_current_heads()
    legacy = None if current else _legacy_version(conn)
    _refuse_unknown(current, legacy)
    target = head()
    start = current or ((LEGACY_REVISIONS[legacy],) if legacy else ())
    if dry_run:
        pending = tuple(_described(script) for script in _pending(start))
        return Migration(current[0] if current else None, target, pending, legacy, dry_run=True)
    if legacy:
        context.stamp(scripts(), LEGACY_REVISIONS[legacy])
    if legacy is not None:
        conn.exec_driver_sql(f"DROP TABLE {LEGACY_TABLE}")
    with Operations.context(context):
        context.run_migrations()
    return Migration(current[0] if current else None, target, tuple(applied), legacy)


def _pending(heads: Iterable[str]) -> list[Script]:
    """The revisions after `heads`, oldest first."""
    return list(reversed(list(scripts().iterate_revisions("heads", tuple(heads), implicit_base=True))))


def _revision(revision_id: str) -> Revision:
    return _described(scripts().get_revision(revision_id))


def _described(script: Script | None) -> Revision:
    return (
        Revision(script.revision, " ".join(script.doc.split())) if script is not None else Revision("?", "")
    )


def _legacy_version(conn: sqlalchemy.Connection) -> int | None:
    """The old runner's version (0 for its table alone), or None when it never ran here."""
    if not sqlalchemy.inspect(conn).has_table(LEGACY_TABLE):
        return None
    found = conn.exec_driver_sql(f"SELECT MAX(version) FROM {LEGACY_TABLE}").scalar()
    return int(found) if found is not None else 0


def _refuse_unknown(current: Sequence[str], legacy: int | None) -> None:
    known = {script.revision for script in scripts().walk_revisions()}
    unknown = [revision for revision in current if revision not in known]
    if unknown:
        raise SchemaMismatch(
            f"schema revision {', '.join(unknown)} is newer than this release knows (its newest is {head()}): "
            "a newer release of sav-bridge upgraded it. Run that release again, or restore the backup taken "
            "before the upgrade; nothing was changed"
        )
    if legacy is not None and legacy != 0 and legacy not in LEGACY_REVISIONS:
        raise SchemaMismatch(
            f"the database's {LEGACY_TABLE} table says version {legacy}, which no release made; nothing "
            "was changed"
        )


def _engine(url: str) -> sqlalchemy.Engine:
    """A one-connection engine on the same database as `open_database(url)`, through the synchronous
    side of the same drivers (sqlite3, psycopg)."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path in ("", ":memory:"):
            raise ConfigError("database_url", "must name a SQLite file (sqlite:///path): a database in memory "
                              "keeps nothing across a restart")  # fmt: skip

        def connect_sqlite() -> sqlite3.Connection:
            # No implicit transaction from the driver: the `begin` hook below opens the one we want. The
            # store's first durable commit (WAL, synchronous=FULL) makes this one durable too, since it
            # comes before it in the log: waiting here for a sync of its own is not needed.
            conn = sqlite3.connect(path, timeout=SQLITE_WAIT, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn

        engine = sqlalchemy.create_engine("sqlite://", creator=connect_sqlite, poolclass=NullPool)
        sqlalchemy.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    scheme = urlsplit(url).scheme
    conninfo = "postgresql" + url[len(scheme) :]
    return sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo), poolclass=NullPool
    )


def _unavailable(exc: sqlalchemy.exc.OperationalError) -> Unavailable:
    first = (str(exc.orig).strip().splitlines() or ["no answer"])[0]
    if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
        first = f"a table it changes stayed in use for {LOCK_TIMEOUT:g} s (lock timeout); nothing was changed"
    return Unavailable("database", f"cannot migrate the schema: {first}")
