"""Names of the X channel's `store.state` facts that several modules share.

Defined in a module that imports nothing, so that the inbound flow (which writes the webhook's last
event), the poller (which reads it) and the health alerts (which watch it) name the same row without
importing one another.
"""

from __future__ import annotations

#: When the X webhook last delivered a body, and the newest post and DM ids it brought:
#: `{"at": epoch, "post_id", "dm_id"}`; where a backfill after an outage reads X from.
LAST_EVENT_FACT = "x.webhook.last_event"
#: When the last backfill (webhook mode) read X: epoch seconds.
BACKFILL_FACT = "x.backfill.last_at"
#: The polling lease: `{"holder"}`, one replica at a time.
POLL_LEASE = "x.poll.lease"
#: Polling cursors: `{"last_id"}`, plus `newest_id` and `next_token` while a walk is unfinished.
MENTIONS_CURSOR = "x.poll.mentions"
DM_EVENTS_CURSOR = "x.poll.dm_events"
#: Polling stopped by `x.budget`: `{"month", "at", "reached", "requests", "cost_micros"}`.
EXHAUSTED_FACT = "x.budget.exhausted"
