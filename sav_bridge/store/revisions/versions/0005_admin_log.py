"""Every change made through the compliance API: who, what, when, from which address.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 (version 5 of the runner before alembic)
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        """CREATE TABLE admin_log (
            id {id}, at {float} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
            address TEXT NOT NULL, detail TEXT NOT NULL)""",
    )


def downgrade() -> None:
    run("DROP TABLE admin_log")
