"""Schema migrations: alembic revisions (`store/revisions/versions/`), applied under a lock.

`open_store` asks first, in one query, whether the database is at the newest revision (`HEAD`); only
when it is not is alembic imported (`store.upgrade`: ~21 MB of memory a started gateway does not carry)
and run, in a thread, on a connection of its own, in one transaction that holds a
lock for its whole length: PostgreSQL's `pg_advisory_xact_lock` (replicas starting together take turns,
and the later ones find nothing left to do), SQLite's `BEGIN IMMEDIATE` (one writer). Both dialects run DDL
inside a transaction, so a failed revision leaves the database as it was.

A database made by the runner that came before alembic (release 0.1.0: a `schema_version` table) is
adopted in that same transaction: stamped at the revision that reproduces its version, its old table
dropped, then upgraded. A database at a revision this code does not know was upgraded by a newer release
(an image rolled back after its upgrade) and is refused: running on a schema it does not know could lose
data.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TextIO

from sav_bridge.store.database import Database, open_database

log = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version"
LEGACY_TABLE = "schema_version"
#: The runner before alembic counted versions 1, 2, …; each has the revision that reproduces it exactly.
LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003", 4: "0004", 5: "0005", 6: "0006"}
#: The newest revision in `revisions/versions`, what a current database is at; a new revision moves it
#: (tests/test_migrations.py fails until it is alembic's head).
HEAD = "0011"


@dataclass(frozen=True)
class Revision:
    id: str
    doc: str


@dataclass(frozen=True)
class Migration:
    """What a migration found and did (or, for a dry run, would do)."""

    #: The revision the database was at; None for an empty one (or one adopted from `legacy_version`).
    current: str | None
    target: str
    applied: tuple[Revision, ...]
    #: The old runner's version, when the database was made before alembic and is (to be) adopted.
    legacy_version: int | None = None
    dry_run: bool = False

    def lines(self) -> list[str]:
        """What `sav-bridge migrate` prints."""
        if self.legacy_version is not None:
            adopted = LEGACY_REVISIONS[self.legacy_version]
            current = f"{adopted} (version {self.legacy_version} of the {LEGACY_TABLE} table before alembic)"
        else:
            current = self.current or "none (empty database)"
        verb = "would apply" if self.dry_run else "applied"
        out = [f"current revision: {current}", f"target revision: {self.target}"]
        out += [f"{verb} {r.id}: {r.doc}" for r in self.applied] or [
            "nothing to apply: the schema is up to date"
        ]
        return out


async def migrate(db: Database, url: str) -> Migration:
    """Bring the schema at `url` (open as `db`) to the head revision; one query when it already is there.

    Raises `SchemaMismatch` for a database at a revision this code does not know, `Unavailable` when a
    lock or the database cannot be had.
    """
    if await _current_revisions(db) == (HEAD,):
        return Migration(HEAD, HEAD, ())
    from sav_bridge.store.upgrade import upgrade

    migration = await asyncio.to_thread(upgrade, url, False)
    if migration.applied or migration.legacy_version is not None:
        # An upgrade is worth a line in the operator's log; the schema of a new database is not.
        fresh = migration.current is None and migration.legacy_version is None
        legacy = migration.legacy_version
        log.log(
            logging.DEBUG if fresh else logging.INFO,
            "database schema upgraded from %s to %s (applied: %s)",
            f"{LEGACY_REVISIONS.get(legacy)} (version {legacy} of release 0.1.0)"
            if legacy
            else migration.current,
            migration.target,
            ", ".join(r.id for r in migration.applied) or "none",
        )
    return migration


async def command(url: str, dry_run: bool, out: TextIO) -> int:
    """`sav-bridge migrate [--dry-run]`: the current and target revisions, then what was (or would be)
    applied. The database is awaited as at start-up (a PostgreSQL starting beside us)."""
    db = await open_database(url)
    try:
        migration = await plan(url) if dry_run else await migrate(db, url)
    finally:
        await db.close()
    for line in migration.lines():
        print(line, file=out)
    return 0


async def plan(url: str) -> Migration:
    """What `migrate` would do, without changing anything (`sav-bridge migrate --dry-run`)."""
    from sav_bridge.store.upgrade import upgrade

    return await asyncio.to_thread(upgrade, url, True)


async def _current_revisions(db: Database) -> tuple[str, ...]:
    exists = (
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
        if db.dialect == "sqlite"
        else "SELECT to_regclass(?) AS name"
    )
    async with db.transaction() as tx:
        found = await tx.fetchone(exists, (VERSION_TABLE,))
        if found is None or found["name"] is None:
            return ()
        rows = await tx.fetchall(f"SELECT version_num FROM {VERSION_TABLE}")
    return tuple(sorted(str(r["version_num"]) for r in rows))
