"""Posting-policy versions (`store.policies`): drafts, the one active version, retired ones.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 (version 4 of the runner before alembic)
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        """CREATE TABLE policy_versions (
            id {id}, yaml TEXT NOT NULL, author TEXT NOT NULL, comment TEXT NOT NULL, status TEXT NOT NULL,
            created_at {float} NOT NULL, activated_at {float}, activated_by TEXT)""",
        # "Exactly one active version" is the database's promise, not only the code's.
        "CREATE UNIQUE INDEX policy_versions_one_active ON policy_versions (status) WHERE status = 'active'",
    )


def downgrade() -> None:
    run("DROP TABLE policy_versions")
