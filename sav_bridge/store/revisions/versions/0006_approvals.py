"""Replies a `hold` rule keeps for a second pair of eyes (`store.approvals`): one per agent comment.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 (version 6 of the runner before alembic)
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        """CREATE TABLE approvals (
            id {id}, helpdesk TEXT NOT NULL, ticket_id TEXT NOT NULL, comment_id TEXT NOT NULL,
            agent TEXT NOT NULL, audience TEXT NOT NULL, rules TEXT NOT NULL, policy_version TEXT NOT NULL,
            payload TEXT NOT NULL, status TEXT NOT NULL, created_at {float} NOT NULL, decided_at {float},
            decided_by TEXT, comment TEXT, UNIQUE (helpdesk, comment_id))""",
    )


def downgrade() -> None:
    run("DROP TABLE approvals")
