"""The first schema: events, quarantine, jobs (the outbox), effects, conversations, message links, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 (version 1 of the runner before alembic)
"""

from __future__ import annotations

from sav_bridge.store.revisions import run

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        """CREATE TABLE events (
            id {id}, source TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL,
            payload TEXT NOT NULL, received_at {float} NOT NULL, UNIQUE (source, event_id))""",
        """CREATE TABLE quarantine (
            id {id}, source TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, reason TEXT NOT NULL,
            body TEXT NOT NULL, received_at {float} NOT NULL)""",
        """CREATE TABLE jobs (
            id {id}, kind TEXT NOT NULL, payload TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE,
            ordering_key TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {float} NOT NULL, lease_until {float}, lease_token INTEGER NOT NULL DEFAULT 0,
            last_error TEXT, created_at {float} NOT NULL, updated_at {float} NOT NULL)""",
        "CREATE INDEX jobs_ready ON jobs (state, next_attempt_at)",
        "CREATE INDEX jobs_order ON jobs (ordering_key, id)",
        """CREATE TABLE effects (
            key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at {float} NOT NULL)""",
        """CREATE TABLE conversations (
            thread_key TEXT PRIMARY KEY, channel TEXT NOT NULL, audience TEXT NOT NULL,
            customer_id TEXT NOT NULL, customer_screen_name TEXT, customer_name TEXT,
            helpdesk TEXT, ticket_id TEXT, last_customer_message_id TEXT, last_summoning_message_id TEXT,
            created_at {float} NOT NULL, updated_at {float} NOT NULL)""",
        "CREATE INDEX conversations_ticket ON conversations (helpdesk, ticket_id)",
        """CREATE TABLE message_links (
            channel TEXT NOT NULL, social_id TEXT NOT NULL, thread_key TEXT NOT NULL, direction TEXT NOT NULL,
            ticket_comment TEXT, created_at {float} NOT NULL, PRIMARY KEY (channel, social_id))""",
        """CREATE TABLE audit (
            id {id}, at {float} NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
            policy_version TEXT, detail TEXT NOT NULL)""",
    )


def downgrade() -> None:
    run(*(f"DROP TABLE {table}" for table in
          ("audit", "message_links", "conversations", "effects", "jobs", "quarantine", "events")))  # fmt: skip
