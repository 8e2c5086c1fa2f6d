"""Outbound: public agent comments become reply posts or DMs, checked by the posting policy first.

Each comment is published at most once (job key = comment id): each post of a thread, and each DM,
goes through `write_once` (intent recorded before sending, read back after a lost answer), and each
part's id is recorded before the next is sent. Whatever happens, the agent reads the outcome in the
ticket.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sav_bridge.channels.x.client import XClient
from sav_bridge.channels.x.events import CHANNEL
from sav_bridge.channels.x.text import DM_MAX_LENGTH, split_for_thread
from sav_bridge.errors import PermanentError
from sav_bridge.flows.once import Write, write_once
from sav_bridge.helpdesks import Helpdesk, WebhookNotice
from sav_bridge.metrics import Metrics
from sav_bridge.model import AgentReply, Audience, Conversation, Decision, TicketRef
from sav_bridge.signature import Signer
from sav_bridge.store import Job, NewJob, Store

log = logging.getLogger(__name__)

JOB_TICKET_CHANGED = "helpdesk.ticket_changed"
JOB_PUBLISH_REPLY = "reply.publish"
JOB_NOTE = "helpdesk.note"

PolicyCheck = Callable[[str, Audience], Decision]
Explain = Callable[[Decision], str]


async def accept_helpdesk_notice(store: Store, metrics: Metrics, helpdesk: str, notice: WebhookNotice) -> int:
    """Store a verified helpdesk doorbell as one job per ticket; returns how many were new."""
    accepted = 0
    for ticket_id in notice.ticket_ids:
        conv = await store.conversation_for_ticket(TicketRef(helpdesk, ticket_id))
        ordering = conv.thread_key if conv else f"{helpdesk}:ticket:{ticket_id}"
        event_id = f"{notice.delivery_id}:{ticket_id}"
        job = NewJob(JOB_TICKET_CHANGED, {"ticket_id": ticket_id}, f"{helpdesk}.changed:{event_id}", ordering)
        if await store.accept_event(helpdesk, event_id, "ticket_changed", {"ticket_id": ticket_id}, [job]):
            accepted += 1
            metrics.events_in.labels(helpdesk, "ticket_changed").inc()
    return accepted


def reply_to_json(reply: AgentReply) -> dict[str, Any]:
    return {
        "helpdesk": reply.ticket.helpdesk,
        "ticket_id": reply.ticket.id,
        "comment_id": reply.comment_id,
        "body": reply.body,
        "agent_id": reply.agent_id,
        "agent_name": reply.agent_name,
        "agent_email": reply.agent_email,
        "wants_dm": reply.wants_dm,
    }


def scrub_reply(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A published (or held) reply's job payload without its text: it may hold a card number."""
    scrubbed = {k: v for k, v in payload.items() if k != "body"}
    scrubbed["body_sha256"] = text_digest(payload.get("body", ""))
    return scrubbed


def text_digest(text: str) -> str:
    """How the audit log and scrubbed jobs refer to a reply's text without keeping it."""
    return hashlib.sha256(text.encode()).hexdigest()


def reply_from_json(data: Mapping[str, Any]) -> AgentReply:
    return AgentReply(
        ticket=TicketRef(data["helpdesk"], data["ticket_id"]),
        comment_id=data["comment_id"],
        body=data["body"],
        agent_id=data["agent_id"],
        agent_name=data["agent_name"],
        agent_email=data.get("agent_email"),
        wants_dm=bool(data.get("wants_dm")),
    )


def note_job(ticket: TicketRef, text: str, key: str, ordering_key: str) -> NewJob:
    return NewJob(JOB_NOTE, {"ticket_id": ticket.id, "text": text}, f"note:{key}", ordering_key)


class OutboundFlow:
    """Handlers of `helpdesk.ticket_changed`, `reply.publish` and `helpdesk.note` jobs."""

    def __init__(
        self,
        store: Store,
        helpdesk: Helpdesk,
        x: XClient,
        signer: Signer,
        metrics: Metrics,
        decide: PolicyCheck,
        explain: Explain,
        screen_name: str | None,
    ) -> None:
        self.store = store
        self.helpdesk = helpdesk
        self.x = x
        self.signer = signer
        self.metrics = metrics
        self.decide = decide
        self.explain = explain
        self.screen_name = (screen_name or "").lstrip("@")

    def _ticket(self, ticket_id: str) -> TicketRef:
        return TicketRef(self.helpdesk.name, ticket_id)

    async def ticket_changed(self, job: Job) -> list[NewJob]:
        """Turn a doorbell into one publish job per public agent comment not seen before."""
        ticket = self._ticket(job.payload["ticket_id"])
        conv = await self.store.conversation_for_ticket(ticket)
        if conv is None:
            log.info("ticket %s is not linked to a social conversation; ignored", ticket.id)
            return []
        replies = await self.helpdesk.agent_replies(ticket)
        return [
            NewJob(
                JOB_PUBLISH_REPLY,
                reply_to_json(r),
                f"reply:{ticket.helpdesk}:{r.comment_id}",
                conv.thread_key,
            )
            for r in replies
        ]

    async def note(self, job: Job) -> None:
        ticket = self._ticket(job.payload["ticket_id"])
        await self.helpdesk.add_internal_note(
            ticket, job.payload["text"], job.idempotency_key, job.attempts > 1
        )

    async def publish(self, job: Job) -> list[NewJob]:
        reply = reply_from_json(job.payload)
        conv = await self.store.conversation_for_ticket(reply.ticket)
        if conv is None:
            raise PermanentError("sav-bridge", "this ticket is not linked to an X conversation")
        audience = Audience.DM if conv.audience is Audience.DM or reply.wants_dm else Audience.PUBLIC
        decision = self.decide(reply.body, audience)
        self.metrics.policy_decisions.labels(decision.action).inc()
        subject = f"{reply.ticket.helpdesk}:{reply.ticket.id}:{reply.comment_id}"
        await self.store.audit(
            "policy",
            subject,
            {
                "action": decision.action,
                "audience": audience.value,
                "findings": [f.__dict__ for f in decision.findings],
                "text_sha256": text_digest(reply.body),
            },
            decision.policy_version,
        )
        note_key = reply.comment_id
        if decision.action == "require_dm" and audience is Audience.PUBLIC:
            if not decision.switch_to_dm or decision.text is None:
                held = f"✋ Not posted publicly.\n{self.explain(decision)}"
                return [self._note(reply, conv, held, note_key)]
            audience = Audience.DM
        if decision.text is None:
            return [self._note(reply, conv, f"⛔ Not posted on X.\n{self.explain(decision)}", note_key)]
        initials = await self.signer.initials(reply)
        signature = self.signer.suffix(initials)
        if audience is Audience.DM:
            links = await self._send_dm(reply, conv, decision.text, signature)
        else:
            links = await self._post_thread(reply, conv, decision.text, signature)
        self.metrics.replies_posted.labels(audience.value).inc()
        await self.store.audit(
            "post", subject, {"audience": audience.value, "ids": links, "initials": initials}
        )
        text = self._posted_note(audience, links)
        if decision.findings:
            text += f"\n{self.explain(decision)}"
        return [self._note(reply, conv, text, note_key)]

    async def _post_thread(
        self, reply: AgentReply, conv: Conversation, body: str, signature: str
    ) -> list[str]:
        target = conv.last_summoning_message_id
        if target is None:
            raise PermanentError(
                "x",
                f"X only accepts replies to posts that mention @{self.screen_name or 'the brand'}; "
                "add the tag sav_dm to answer by DM instead",
            )
        posted: list[str] = []
        for index, part in enumerate(split_for_thread(body, signature)):
            key = f"post:{reply.ticket.helpdesk}:{reply.comment_id}:{index}"
            post_id = await write_once(self.store, self._post_write(key, target, part))
            await self.store.link_message(CHANNEL, post_id, conv.thread_key, "out", reply.comment_id)
            posted.append(post_id)
            target = post_id
        return posted

    def _post_write(self, key: str, target: str, text: str) -> Write:
        async def send() -> str:
            return await self.x.post_reply(text, target)

        return Write(key, target, text, send, self.x.find_reply)

    async def _send_dm(self, reply: AgentReply, conv: Conversation, body: str, signature: str) -> list[str]:
        text = body.strip() + signature
        if len(text) > DM_MAX_LENGTH:
            raise PermanentError(
                "x", f"a DM holds at most {DM_MAX_LENGTH} characters; this one has {len(text)}"
            )
        key = f"dm:{reply.ticket.helpdesk}:{reply.comment_id}"
        participant = conv.customer.id

        async def send() -> str:
            return await self.x.send_dm(participant, text)

        dm_id = await write_once(self.store, Write(key, participant, text, send, self.x.find_dm, "DM"))
        await self.store.link_message(CHANNEL, dm_id, conv.thread_key, "out", reply.comment_id)
        return [dm_id]

    def _posted_note(self, audience: Audience, ids: list[str]) -> str:
        if audience is Audience.DM:
            return f"✅ Sent to the customer as a DM on X (event {ids[0]})."
        who = self.screen_name or "i/web"
        urls = "\n".join(f"https://x.com/{who}/status/{i}" for i in ids)
        parts = f" as a thread of {len(ids)} posts" if len(ids) > 1 else ""
        return f"✅ Posted on X{parts}:\n{urls}"

    def _note(self, reply: AgentReply, conv: Conversation, text: str, key: str) -> NewJob:
        return note_job(reply.ticket, text, f"{reply.ticket.helpdesk}:{key}", conv.thread_key)

    async def on_dead(self, job: Job, error: str) -> None:
        """Tell the agent, in the ticket, that a reply will not go out (nothing is silently lost)."""
        if job.kind != JOB_PUBLISH_REPLY:
            return
        reply = reply_from_json(job.payload)
        text = f"⚠️ Not posted on X: {error}. The customer has not received this reply."
        prefix = f"{reply.ticket.helpdesk}:{reply.comment_id}"
        if await self.store.unconfirmed(f"post:{prefix}:") or await self.store.intent(f"dm:{prefix}"):
            text = (
                f"⚠️ Not confirmed on X: {error}. This reply may have reached the customer: look at the "
                "conversation on X before sending it again."
            )
        conv = await self.store.conversation_for_ticket(reply.ticket)
        ordering = conv.thread_key if conv else f"{reply.ticket.helpdesk}:ticket:{reply.ticket.id}"
        await self.store.enqueue(
            [note_job(reply.ticket, text, f"{reply.ticket.helpdesk}:{reply.comment_id}:failed", ordering)]
        )
