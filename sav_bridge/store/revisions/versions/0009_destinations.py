"""Rate limits and circuit breakers every replica shares (`store.destinations`): one row per destination.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        # parked_until: the vendor said "slow down" (429, Retry-After, x-rate-limit-reset, a spent quota);
        # open_until: the breaker is open (NULL: closed), moved forward for the one probe of a half-open
        # breaker (prober); failures in a row, and how many times it opened in a row (its cooldown doubles),
        # opened_by naming the call that opened it last; next_slot: the next free request slot under a rate
        # limit (GCRA).
        """CREATE TABLE destinations (
            name TEXT PRIMARY KEY, parked_until {float} NOT NULL DEFAULT 0, open_until {float},
            failures INTEGER NOT NULL DEFAULT 0, opened INTEGER NOT NULL DEFAULT 0, opened_by TEXT,
            prober TEXT, next_slot {float} NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '', updated_at {float} NOT NULL)""",
    )


def downgrade() -> None:
    run("DROP TABLE destinations")
