"""The store's small tables: named facts (`state`), encrypted credentials (`secrets`), billed usage.

Each is a thin class over the same `Database`, reached from `Store` (`store.state`, `store.secrets`,
`store.usage`), so that the queries of one noun live together and `repository.py` keeps the flows' own.
Values are JSON. Nothing here encrypts: `secrets` stores ciphertext its caller made (`cryptography`'s
Fernet, keyed by `secrets_key`), so a database dump never shows a token.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sav_bridge.store.database import Database

Clock = Callable[[], float]


class State:
    """Named JSON facts shared by every replica (cursors, last event seen, paused destinations)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def get(self, name: str) -> Any | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT value FROM state WHERE name = ?", (name,))
            return json.loads(row["value"]) if row else None

    async def put(self, name: str, value: Any) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (name, json.dumps(value), self.clock()),
            )

    async def delete(self, name: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM state WHERE name = ?", (name,))

    async def create(self, name: str, value: Any) -> bool:
        """Store `value` unless `name` is there already; True when this call stored it."""
        async with self.db.transaction() as tx:
            return bool(
                await tx.execute(
                    "INSERT INTO state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    (name, json.dumps(value), self.clock()),
                )
            )

    async def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take the lease `name` for `holder` unless someone else took it less than `seconds` ago.

        One atomic upsert, so of several replicas asking at once exactly one gets it (the X token
        refresh: X's refresh tokens are single-use, so only one replica may spend one)."""
        now = self.clock()
        async with self.db.transaction() as tx:
            return bool(
                await tx.execute(
                    "INSERT INTO state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name)"
                    " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
                    " WHERE state.updated_at <= ? OR state.value = excluded.value",
                    (name, json.dumps({"holder": holder}), now, now - seconds),
                )
            )

    async def release_lease(self, name: str, holder: str) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM state WHERE name = ? AND value = ?", (name, json.dumps({"holder": holder}))
            )


@dataclass(frozen=True)
class SealedSecret:
    """A credential as stored: ciphertext only, with its expiry and the version to replace it from."""

    name: str
    ciphertext: str
    expires_at: float | None
    version: int


class Secrets:
    """Encrypted credentials, replaced by compare-and-swap on `version`."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def get(self, name: str) -> SealedSecret | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT * FROM secrets WHERE name = ?", (name,))
        if row is None:
            return None
        return SealedSecret(row["name"], row["ciphertext"], row["expires_at"], int(row["version"]))

    async def create(self, name: str, ciphertext: str, expires_at: float | None) -> bool:
        """Store a first value; False if one is there already (then `replace` it)."""
        async with self.db.transaction() as tx:
            return bool(
                await tx.execute(
                    "INSERT INTO secrets (name, ciphertext, expires_at, version, updated_at)"
                    " VALUES (?, ?, ?, 1, ?) ON CONFLICT (name) DO NOTHING",
                    (name, ciphertext, expires_at, self.clock()),
                )
            )

    async def replace(self, name: str, version: int, ciphertext: str, expires_at: float | None) -> bool:
        """Replace the value read at `version`; False when another writer replaced it first."""
        async with self.db.transaction() as tx:
            return bool(
                await tx.execute(
                    "UPDATE secrets SET ciphertext = ?, expires_at = ?, version = version + 1, updated_at = ?"
                    " WHERE name = ? AND version = ?",
                    (ciphertext, expires_at, self.clock(), name, version),
                )
            )

    async def put(self, name: str, ciphertext: str, expires_at: float | None) -> None:
        """Store a value whatever was there (`x connect`: a person just authorised the app)."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO secrets (name, ciphertext, expires_at, version, updated_at) VALUES (?, ?, ?, 1, ?)"
                " ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext,"
                " expires_at = excluded.expires_at, version = secrets.version + 1,"
                " updated_at = excluded.updated_at",
                (name, ciphertext, expires_at, self.clock()),
            )


class Usage:
    """Billed requests per UTC day and kind: what the budget and the metrics read."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def today(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")

    async def add(self, kind: str, requests: int, resources: int, cost_micros: int) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO usage (day, kind, requests, resources, cost_micros) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (day, kind) DO UPDATE SET requests = usage.requests + excluded.requests,"
                " resources = usage.resources + excluded.resources,"
                " cost_micros = usage.cost_micros + excluded.cost_micros",
                (self.today(), kind, requests, resources, cost_micros),
            )

    async def first_today(self, kind: str, resources: Sequence[str]) -> int:
        """How many of `resources` were not billed yet today as `kind` (they are remembered as billed
        now): X bills a resource read several times in one UTC day once. Earlier days are forgotten."""
        if not resources:
            return 0
        today = self.today()
        fresh = 0
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM usage_seen WHERE day < ?", (today,))
            for resource in dict.fromkeys(resources):
                fresh += await tx.execute(
                    "INSERT INTO usage_seen (day, kind, resource) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (today, kind, resource),
                )
        return fresh

    async def month(self, month: str | None = None) -> dict[str, dict[str, int]]:
        """Totals by kind for a month ("2026-11"; default: the current one)."""
        prefix = (month or self.today()[:7]) + "-"
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "SELECT kind, SUM(requests) AS requests, SUM(resources) AS resources, SUM(cost_micros) AS cost"
                " FROM usage WHERE day LIKE ? GROUP BY kind",
                (prefix + "%",),
            )
        return {
            r["kind"]: {
                "requests": int(r["requests"]),
                "resources": int(r["resources"]),
                "cost_micros": int(r["cost"]),
            }
            for r in rows
        }
