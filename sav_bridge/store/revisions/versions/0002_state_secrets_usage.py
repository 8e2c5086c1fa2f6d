"""Durable facts shared by replicas (state), credentials the gateway obtains (secrets), billed X usage.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 (version 2 of the runner before alembic)
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        # Small durable facts shared by replicas: polling cursors, last event seen, paused destinations.
        """CREATE TABLE state (
            name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at {float} NOT NULL)""",
        # Credentials the gateway obtains itself (OAuth 2.0 tokens), Fernet-encrypted; `version` lets one
        # replica replace them only if no other did meanwhile (refresh tokens are single-use).
        """CREATE TABLE secrets (
            name TEXT PRIMARY KEY, ciphertext TEXT NOT NULL, expires_at {float},
            version INTEGER NOT NULL DEFAULT 1, updated_at {float} NOT NULL)""",
        # Billed requests to X per UTC day and kind, with what they cost (micro-units of the currency).
        """CREATE TABLE usage (
            day TEXT NOT NULL, kind TEXT NOT NULL, requests BIGINT NOT NULL DEFAULT 0,
            resources BIGINT NOT NULL DEFAULT 0, cost_micros BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (day, kind))""",
    )


def downgrade() -> None:
    run("DROP TABLE usage", "DROP TABLE secrets", "DROP TABLE state")
