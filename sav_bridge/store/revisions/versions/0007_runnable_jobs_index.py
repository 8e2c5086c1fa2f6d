"""Claims read only the jobs that can still run: partial indexes over pending and running jobs (the
claim's scan) and over the unfinished jobs of each conversation (its order check), so a claim costs the
same with a million done jobs as with none.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        "CREATE INDEX jobs_runnable ON jobs (next_attempt_at, id) WHERE state IN ('pending', 'running')",
        "CREATE INDEX jobs_unfinished ON jobs (ordering_key, id) WHERE state IN ('pending', 'running', 'dead')",
    )


def downgrade() -> None:
    run("DROP INDEX jobs_unfinished", "DROP INDEX jobs_runnable")
