"""Social care's memory (`store.care`): each customer message as care saw it, and each conversation's
response times, for the acknowledgement's cooldown, the burst signal, the response-time watch and the
report.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        # One row per customer message (channel message key): when it was written, whether an
        # acknowledgement answered it, the priority care asked for it.
        """CREATE TABLE care_messages (
            message_key TEXT PRIMARY KEY, thread_key TEXT NOT NULL, customer_id TEXT NOT NULL,
            at {float} NOT NULL, public INTEGER NOT NULL DEFAULT 1, acked INTEGER NOT NULL DEFAULT 0,
            level TEXT)""",
        "CREATE INDEX care_messages_thread ON care_messages (thread_key, at)",
        "CREATE INDEX care_messages_customer ON care_messages (customer_id, at)",
        # One row per conversation: its first message, the agents' first and last answers, the oldest
        # customer message still unanswered (NULL: answered), and the wait the watch already raised.
        """CREATE TABLE care_conversations (
            thread_key TEXT PRIMARY KEY, customer_id TEXT NOT NULL, ticket_id TEXT,
            opened_at {float} NOT NULL, first_response_at {float}, last_agent_at {float},
            awaiting_since {float}, warned_for {float}, level TEXT,
            public INTEGER NOT NULL DEFAULT 1, moved_to_dm INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX care_waiting ON care_conversations (awaiting_since) WHERE awaiting_since IS NOT NULL",
        "CREATE INDEX care_opened ON care_conversations (opened_at)",
    )


def downgrade() -> None:
    run("DROP TABLE care_conversations", "DROP TABLE care_messages")
