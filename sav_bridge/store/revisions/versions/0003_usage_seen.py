"""Resources X billed today, by kind, so that the meter counts only the first read of each.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 (version 3 of the runner before alembic)
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        # X charges a resource once per UTC day however often it is read (rows of earlier days are deleted).
        """CREATE TABLE usage_seen (
            day TEXT NOT NULL, kind TEXT NOT NULL, resource TEXT NOT NULL, PRIMARY KEY (day, kind, resource))""",
    )


def downgrade() -> None:
    run("DROP TABLE usage_seen")
