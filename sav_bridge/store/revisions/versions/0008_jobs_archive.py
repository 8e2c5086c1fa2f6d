"""Done jobs leave the job table after `retention.done_job_days` for an archive that keeps what an
operator or a later enqueue needs (kind, keys, times), never the payload; the idempotency key stays
unique there, so a job done long ago is still not enqueued twice.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        """CREATE TABLE jobs_archive (
            id BIGINT PRIMARY KEY, kind TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
            ordering_key TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
            created_at {float} NOT NULL, finished_at {float} NOT NULL)""",
        "CREATE INDEX jobs_archive_finished ON jobs_archive (finished_at)",
        "CREATE INDEX events_received ON events (received_at)",
        "CREATE INDEX quarantine_received ON quarantine (received_at)",
    )


def downgrade() -> None:
    run(
        "DROP INDEX quarantine_received",
        "DROP INDEX events_received",
        "DROP INDEX jobs_archive_finished",
        "DROP TABLE jobs_archive",
    )
