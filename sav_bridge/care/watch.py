"""The response-time watch: a conversation nearing its target without an agent's answer is raised.

Targets count business hours (`care.hours`): a mention on Friday night waits until Monday's opening before
its hour starts. `warn_before_minutes` before the first-response target (or the next-response one, for a
customer who wrote again after an answer), the ticket's priority is raised to `watch_priority` (never
lowered), a note says so, and `sav_bridge_care_response_warnings{target}` counts it. Once per wait: a new
customer message after an answer starts a new one. Every replica may run the watch; the jobs' keys make
the second one's enqueue a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sav_bridge.care.pipeline import JOB_CARE_UPDATE, update_job
from sav_bridge.care.settings import CareSettings
from sav_bridge.flows.outbound import note_job
from sav_bridge.helpdesks import Helpdesk, updates_tickets
from sav_bridge.metrics import Metrics
from sav_bridge.model import TicketRef, TicketUpdate
from sav_bridge.store import NewJob, Store
from sav_bridge.store.care import Waiting, rank

log = logging.getLogger(__name__)

EVERY_SECONDS = 60.0


class ResponseWatch:
    def __init__(
        self,
        settings: CareSettings,
        store: Store,
        helpdesk: Helpdesk,
        metrics: Metrics,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.store = store
        self.helpdesk = helpdesk
        self.metrics = metrics
        self.clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check()
            except Exception:  # a database hiccup must not end the watch
                log.exception("care: the response-time watch failed; next round in %s s", EVERY_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), EVERY_SECONDS)

    async def check(self) -> int:
        """Raise every conversation due now; how many were raised."""
        now = self.clock()
        self.metrics.care_waiting.set(await self.store.care.waiting_count())
        raised = 0
        for waiting in await self.store.care.waiting():
            due = self.due(waiting)
            if due is None or due > now or waiting.ticket_id is None:
                continue
            await self.store.enqueue(self._jobs(waiting))
            await self.store.care.warned(waiting.thread_key, waiting.awaiting_since)
            if rank(self.settings.watch_priority) > rank(waiting.level):
                await self.store.care.raised(waiting.thread_key, self.settings.watch_priority)
            self.metrics.care_late.labels("next" if waiting.answered_before else "first").inc()
            raised += 1
        return raised

    def due(self, waiting: Waiting) -> float | None:
        """When this wait is raised: `warn_before_minutes` before its target, in business time."""
        s = self.settings
        target = s.next_response_minutes if waiting.answered_before else s.first_response_minutes
        start = datetime.fromtimestamp(waiting.awaiting_since, UTC)
        at = s.hours.add_business_minutes(start, max(target - s.warn_before_minutes, 0.0))
        return None if at is None else at.timestamp()

    def _jobs(self, waiting: Waiting) -> list[NewJob]:
        s = self.settings
        assert waiting.ticket_id is not None
        ticket = TicketRef(self.helpdesk.name, waiting.ticket_id)
        key = f"care.watch:{waiting.thread_key}:{waiting.awaiting_since:.3f}"
        which = "next-response" if waiting.answered_before else "first-response"
        target = s.next_response_minutes if waiting.answered_before else s.first_response_minutes
        since = datetime.fromtimestamp(waiting.awaiting_since, UTC).strftime("%Y-%m-%d %H:%M UTC")
        jobs = []
        text = (
            f"⏰ The customer has waited since {since} without an answer: the {which} target "
            f"({target:g} business minutes) is {s.warn_before_minutes:g} minutes away."
        )
        if rank(s.watch_priority) > rank(waiting.level) and updates_tickets(self.helpdesk):
            update = TicketUpdate(priority=s.watch_priority)
            jobs.append(update_job(ticket, update, f"{JOB_CARE_UPDATE}:{key}", waiting.thread_key))
            text += f" Priority raised to {s.watch_priority}."
            self.metrics.care_raised.labels("watch").inc()
        jobs.append(note_job(ticket, text, f"{ticket.helpdesk}:{key}", waiting.thread_key))
        return jobs
