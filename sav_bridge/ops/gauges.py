"""The operator's gauges, read from the store at each scrape so that every replica reports the same:
dead jobs by kind, conversations a dead job holds, and how long the oldest runnable job has waited."""

from __future__ import annotations

from sav_bridge.flows import JOB_NOTE, JOB_PUBLISH_REPLY, JOB_SOCIAL_MESSAGE, JOB_TICKET_CHANGED
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store
from sav_bridge.store.job_admin import JobAdmin

#: Kinds always reported, at 0 when none is dead, so an alert sees them fall back.
KINDS = (JOB_SOCIAL_MESSAGE, JOB_TICKET_CHANGED, JOB_PUBLISH_REPLY, JOB_NOTE)


async def refresh(metrics: Metrics, store: Store) -> None:
    health = await JobAdmin(store.db, store.clock).health()
    metrics.dead_jobs.clear()
    for kind in sorted({*KINDS, *health.dead_by_kind}):
        metrics.dead_jobs.labels(kind).set(health.dead_by_kind.get(kind, 0))
    metrics.held_conversations.set(health.held_conversations)
    since = health.oldest_runnable_since
    metrics.queue_age.set(max(store.clock() - since, 0.0) if since is not None else 0.0)
