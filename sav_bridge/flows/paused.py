"""Replies that wait for X: while X refuses the gateway's access, the agent reads why, once per ticket.

A paused reply job is rescheduled by the outbox (it waits, it is never dead); this wrapper of the
publish handler adds one internal note per ticket and per pause, keyed by the pause's start so that
retries and replicas never repeat it. The note has an ordering key of its own: the waiting reply holds
its conversation, the note must not wait behind it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sav_bridge.errors import Paused
from sav_bridge.flows.outbound import note_job
from sav_bridge.model import TicketRef
from sav_bridge.store import Job, NewJob, Store

Handler = Callable[[Job], Awaitable[list[NewJob] | None]]

WAITING_NOTE = (
    "⏸ Not posted on X yet: X is refusing the gateway's access, so replies to X wait (none is lost). "
    "This reply will be posted by itself as soon as an administrator restores the access."
)


def noting_pauses(publish: Handler, store: Store) -> Handler:
    """`publish`, plus one note on the ticket when X access is paused."""

    async def handler(job: Job) -> list[NewJob] | None:
        try:
            return await publish(job)
        except Paused as exc:
            if exc.destination != "x":
                raise  # the helpdesk itself waits (its quota): a note could not be written either
            ticket = job.read(lambda p: TicketRef(str(p["helpdesk"]), str(p["ticket_id"])))
            key = f"{ticket.helpdesk}:{ticket.id}:x-paused:{exc.since:.0f}"
            ordering = f"{ticket.helpdesk}:ticket:{ticket.id}:x-paused"
            await store.enqueue([note_job(ticket, WAITING_NOTE, key, ordering)])
            raise

    return handler
