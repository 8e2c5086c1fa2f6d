"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date.strftime('%Y-%m-%d')}
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    run()


def downgrade() -> None:
    run()
