"""The jobs care enqueues: a ticket update, an acknowledgement on X, the history note.

An acknowledgement is an outgoing text like an agent's reply: checked by the posting policy in force when
it goes, signed with the team's signature, sent once (intent recorded before, read back after an
ambiguous failure, `flows.once`), and recorded in the ticket as a note.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import cast

from sav_bridge.care.pipeline import JOB_CARE_ACK, JOB_CARE_HISTORY, JOB_CARE_UPDATE, update_from_json
from sav_bridge.care.settings import CareSettings
from sav_bridge.channels.x.client import XClient
from sav_bridge.channels.x.events import CHANNEL
from sav_bridge.flows.once import Write, write_once
from sav_bridge.flows.outbound import Explain, PolicyCheck, note_job
from sav_bridge.helpdesks import CareAware, Helpdesk, knows_history
from sav_bridge.metrics import Metrics
from sav_bridge.model import Audience, PastTicket, SocialUser, TicketRef
from sav_bridge.store import Job, NewJob, Store

log = logging.getLogger(__name__)

VIA_WORDS = {"dm": "as a DM", "public": "as a public reply"}


class CareJobs:
    """Handlers of `care.update`, `care.ack` and `care.history` jobs."""

    def __init__(
        self,
        settings: CareSettings,
        store: Store,
        helpdesk: Helpdesk,
        x: XClient,
        metrics: Metrics,
        decide: PolicyCheck,
        explain: Explain,
    ) -> None:
        self.settings = settings
        self.store = store
        self.helpdesk = helpdesk
        self.x = x
        self.metrics = metrics
        self.decide = decide
        self.explain = explain

    def _ticket(self, job: Job) -> TicketRef:
        return TicketRef(self.helpdesk.name, job.read(lambda p: str(p["ticket_id"])))

    async def update(self, job: Job) -> None:
        update = job.read(lambda p: update_from_json(p["update"]))
        plugin = cast(CareAware, self.helpdesk)  # only enqueued for plugins that have it (updates_tickets)
        await plugin.update_ticket(self._ticket(job), update, job.idempotency_key, job.attempts > 1)

    async def ack(self, job: Job) -> list[NewJob]:
        """Send the acknowledgement (or the invitation to DM) if the policy in force lets it go."""
        ticket = self._ticket(job)
        thread_key, message_id, customer, text, via, what = job.read(
            lambda p: (
                str(p["thread_key"]), str(p["message_id"]), str(p["customer_id"]), str(p["text"]),
                str(p["via"]), str(p.get("what", "ack")),
            )
        )  # fmt: skip
        label = "Automatic acknowledgement" if what == "ack" else "Invitation to continue by DM"
        audience = Audience.DM if via == "dm" else Audience.PUBLIC
        decision = self.decide(text, audience)
        self.metrics.policy_decisions.labels(decision.action).inc()
        await self.store.audit(
            "policy",
            job.idempotency_key,
            {"action": decision.action, "audience": audience.value, "agent": {"id": "care", "name": "care"},
             "findings": [f.__dict__ for f in decision.findings], "posted_text": decision.text},
            decision.policy_version,
        )  # fmt: skip
        note_key = f"{ticket.helpdesk}:{job.idempotency_key}"
        if decision.text is None or decision.action in ("require_dm", "hold"):
            why = self.explain(decision)
            note = f"🤖 {label} not sent: the posting policy stopped it.\n{why}"
            return [note_job(ticket, note, note_key, thread_key)]
        body = decision.text.strip() + self.settings.signature
        if audience is Audience.DM:
            write = Write(
                job.idempotency_key,
                customer,
                body,
                lambda: self.x.send_dm(customer, body),
                self.x.find_dm,
                "DM",
            )
        else:
            write = Write(
                job.idempotency_key,
                message_id,
                body,
                lambda: self.x.post_reply(body, message_id),
                self.x.find_reply,
            )
        written = await write_once(self.store, write)
        await self.store.link_message(CHANNEL, written.id, thread_key, "out", job.idempotency_key)
        await self.store.audit("post", job.idempotency_key, {"audience": audience.value, "ids": [written.id]})
        self.metrics.care_acks.labels(via).inc()
        note = f"🤖 {label} sent {VIA_WORDS[via]} on X (id {written.id}):\n«{body}»"
        return [note_job(ticket, note, note_key, thread_key)]

    async def history(self, job: Job) -> list[NewJob]:
        """The first note of a new conversation: what the helpdesk and the gateway already know of the customer."""
        ticket = self._ticket(job)
        payload = job.read(lambda p: dict(p))
        customer = SocialUser(
            str(payload["customer"]["id"]),
            payload["customer"].get("screen_name"),
            payload["customer"].get("name"),
        )
        past: list[PastTicket] = []
        if payload.get("ask_helpdesk") and knows_history(self.helpdesk):
            plugin = cast(CareAware, self.helpdesk)
            past = await plugin.customer_history(
                customer, exclude=ticket, limit=self.settings.history_tickets
            )
        text = history_note(
            customer, past, int(payload.get("other_conversations") or 0), payload.get("first_contact")
        )
        return [
            note_job(ticket, text, f"{ticket.helpdesk}:{job.idempotency_key}", str(payload["thread_key"]))
        ]

    async def on_dead(self, job: Job, error: str) -> None:
        """A care job that will not succeed: the agents read why on the ticket (care's later jobs of the
        conversation wait for an operator's replay or skip; its messages and replies do not)."""
        ticket = self._ticket(job)
        thread_key = job.read(lambda p: str(p["thread_key"]))
        what = {
            JOB_CARE_ACK: "The automatic acknowledgement was not sent on X",
            JOB_CARE_UPDATE: "Social care could not update this ticket (priority, tags or routing)",
            JOB_CARE_HISTORY: "Social care could not read the customer's history",
        }.get(job.kind, "A social-care step failed")
        text = f"⚠️ {what}: {error}."
        await self.store.enqueue(
            [note_job(ticket, text, f"{ticket.helpdesk}:{job.idempotency_key}:failed", thread_key)]
        )


def history_note(
    customer: SocialUser, past: list[PastTicket], others: int, first_contact: float | None
) -> str:
    """The history as agents read it, newest first; says so when there is none."""
    who = f"@{customer.screen_name}" if customer.screen_name else f"X user {customer.id}"
    lines = [f"📇 History of {who}:"]
    if first_contact is not None and others:
        since = datetime.fromtimestamp(first_contact, UTC).strftime("%Y-%m-%d")
        lines.append(
            f"• On X: first message to the brand through the gateway on {since}; {others} earlier conversation(s)."
        )
    elif not others:
        lines.append("• On X: first conversation with the brand through the gateway.")
    if past:
        lines.append(f"• In the helpdesk, {len(past)} earlier ticket(s), newest first:")
        for ticket in past:
            lines.append(
                f"  – #{ticket.id} {ticket.subject[:80]!r} ({ticket.status}, via {ticket.channel}, "
                f"opened {ticket.created_at[:10]}, updated {ticket.updated_at[:10]})"
            )
    else:
        lines.append("• In the helpdesk: no earlier ticket for this customer.")
    return "\n".join(lines)
