"""Outbound: public agent comments become reply posts or DMs, checked by the posting policy first.

Each comment is published at most once (job key = comment id): each post of a thread, and each DM,
goes through `write_once` (intent recorded before sending, read back after a lost answer), and each
part's id is recorded before the next is sent. Whatever happens, the agent reads the outcome in the
ticket.

One image the agent attached goes out with the reply (the first post of a thread, or the DM):
downloaded from the helpdesk, its type read from the bytes, uploaded to X just before the write's
intent is recorded (`Write.prepare`), so a retry uploads again instead of using an id that may have
expired. Other files, and an image X would not take, are named in the note to the agent.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sav_bridge.channels.x.client import XClient
from sav_bridge.channels.x.events import CHANNEL
from sav_bridge.channels.x.media import UPLOAD_MAX_BYTES, UPLOAD_TYPES, XMedia, size_text, sniff
from sav_bridge.channels.x.text import DM_MAX_LENGTH, split_for_thread
from sav_bridge.errors import PermanentError
from sav_bridge.flows.once import Carried, Write, write_once
from sav_bridge.helpdesks import Helpdesk, WebhookNotice, dm_marker
from sav_bridge.metrics import Metrics
from sav_bridge.model import (
    AgentReply,
    AttachmentRef,
    Audience,
    Conversation,
    Decision,
    TicketRef,
)
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
    for event_id, ticket_id in notice.deliveries():
        conv = await store.conversation_for_ticket(TicketRef(helpdesk, ticket_id))
        ordering = conv.thread_key if conv else f"{helpdesk}:ticket:{ticket_id}"
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
        "attachments": [a.to_json() for a in reply.attachments],
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
        attachments=tuple(AttachmentRef.from_json(a) for a in data.get("attachments") or ()),
    )


def replies_ordering(thread_key: str) -> str:
    """The ordering key of a conversation's replies to X: they follow each other, but a reply waiting for
    X (a 503, a rate limit, paused access) never holds the customer's next messages to the helpdesk."""
    return f"{thread_key}:replies"


def reply_writes(helpdesk: str, comment_id: str) -> tuple[str, str]:
    """Where the writes of an agent comment's reply are recorded (`write_once` keys): the prefix of its
    posts' keys (one per part, `<prefix><index>`) and its DM's key."""
    return f"post:{helpdesk}:{comment_id}:", f"dm:{helpdesk}:{comment_id}"


def note_job(ticket: TicketRef, text: str, key: str, ordering_key: str) -> NewJob:
    return NewJob(JOB_NOTE, {"ticket_id": ticket.id, "text": text}, f"note:{key}", ordering_key)


@dataclass
class Image:
    """The one agent file that goes out with a reply, and what became of it."""

    ref: AttachmentRef
    media_id: str | None = None
    refused: str | None = None

    def outcome(self) -> dict[str, Any]:
        """What became of it, kept with the write that carries it (`Write.prepare`'s answer)."""
        return {"image": {"media_id": self.media_id, "refused": self.refused}}

    def carried(self, carried: Mapping[str, Any]) -> None:
        """Take what became of it from the write's result, which an earlier attempt may have made."""
        outcome = carried.get("image")
        if isinstance(outcome, dict):
            self.media_id, self.refused = outcome.get("media_id"), outcome.get("refused")


def choose_image(files: tuple[AttachmentRef, ...]) -> tuple[Image | None, list[str]]:
    """The first image X can take, and a line for each other file saying why it stays behind."""
    image: Image | None = None
    left: list[str] = []
    for ref in files:
        if ref.content_type.lower() not in UPLOAD_TYPES:
            left.append(f"{ref.filename} (not an image X takes: {ref.content_type})")
        elif ref.size > UPLOAD_MAX_BYTES:
            left.append(
                f"{ref.filename} ({size_text(ref.size)}; X takes images up to {size_text(UPLOAD_MAX_BYTES)})"
            )
        elif image is not None:
            left.append(f"{ref.filename} (X takes one image per reply; {image.ref.filename} was chosen)")
        else:
            image = Image(ref)
    return image, left


def files_note(image: Image | None, left: list[str]) -> str:
    lines = []
    if image is not None and image.media_id is not None:
        lines.append(f"🖼️ With the image {image.ref.filename}.")
    if image is not None and image.refused is not None:
        left = [f"{image.ref.filename} ({image.refused})", *left]
    if left:
        lines.append("📎 Not sent to X: " + "; ".join(left) + ".")
    return "".join(f"\n{line}" for line in lines)


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
        media: XMedia | None = None,
    ) -> None:
        self.store = store
        self.helpdesk = helpdesk
        self.x = x
        self.signer = signer
        self.metrics = metrics
        self.decide = decide
        self.explain = explain
        self.screen_name = (screen_name or "").lstrip("@")
        self.media = media

    def _ticket(self, ticket_id: str) -> TicketRef:
        return TicketRef(self.helpdesk.name, ticket_id)

    async def ticket_changed(self, job: Job) -> list[NewJob]:
        """Turn a doorbell into one publish job per public agent comment not seen before."""
        ticket = self._ticket(job.read(lambda p: str(p["ticket_id"])))
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
                replies_ordering(conv.thread_key),
            )
            for r in replies
        ]

    async def note(self, job: Job) -> None:
        ticket = self._ticket(job.read(lambda p: str(p["ticket_id"])))
        await self.helpdesk.add_internal_note(
            ticket, job.read(lambda p: str(p["text"])), job.idempotency_key, job.attempts > 1
        )

    async def publish(self, job: Job) -> list[NewJob]:
        if "body" not in job.payload and "body_sha256" in job.payload:
            return self._handled_before(job)
        reply = job.read(reply_from_json)
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
                "agent": {"id": reply.agent_id, "name": reply.agent_name},
                "findings": [f.__dict__ for f in decision.findings],
                "text_sha256": text_digest(reply.body),
                # What would be posted (redacted where the policy said so); never a blocked reply's text.
                "posted_text": decision.text,
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
        approved_by = job.read(lambda p: p.get("approved_by"))
        if decision.action == "hold" and not approved_by:
            return [await self._hold(job, reply, conv, audience, decision)]
        initials = await self.signer.initials(reply)
        signature = self.signer.suffix(initials)
        image, left = choose_image(reply.attachments) if self.media else (None, [])
        if audience is Audience.DM:
            links = await self._send_dm(reply, conv, decision.text, signature, image)
        else:
            links = await self._post_thread(reply, conv, decision.text, signature, image)
        self.metrics.replies_posted.labels(audience.value).inc()
        # The customer has an answer: care's response-time watch stops counting (a no-op without care).
        await self.store.care.answered(conv.thread_key, self.store.clock(), audience is Audience.DM)
        await self.store.audit(
            "post", subject, {"audience": audience.value, "ids": links, "initials": initials}
        )
        text = self._posted_note(audience, links) + files_note(image, left)
        if approved_by:
            text += f"\nApproved by {approved_by} in the compliance console."
        if decision.findings:
            text += f"\n{self.explain(decision)}"
        return [self._note(reply, conv, text, note_key)]

    def _handled_before(self, job: Job) -> list[NewJob]:
        """A reply job run again once done (`sav-bridge jobs replay --force`): its text was dropped when it
        was handled (posted, blocked or held, the agent told each time), so nothing is sent again; what it
        wrote stays recorded under `reply_writes`."""
        comment = job.read(lambda p: str(p["comment_id"]))
        log.info("reply job %s (comment %s) was handled before; nothing is sent again", job.id, comment)
        return []

    async def _hold(
        self, job: Job, reply: AgentReply, conv: Conversation, audience: Audience, decision: Decision
    ) -> NewJob:
        """Keep the reply in the approval queue and tell the agent it waits there."""
        payload = job.read(lambda p: dict(p))
        agent = {"id": reply.agent_id, "name": reply.agent_name, "email": reply.agent_email}
        rules = sorted({f.rule for f in decision.findings if f.action == "hold"})
        number = await self.store.approvals.hold(
            payload, agent, audience.value, rules, decision.policy_version
        )
        text = (f"⏳ Not posted yet: this reply waits for a second person's approval in the compliance "
                f"console (approval {number}).\n{self.explain(decision)}")  # fmt: skip
        return self._note(reply, conv, text, f"{reply.comment_id}:held")

    async def _post_thread(
        self, reply: AgentReply, conv: Conversation, body: str, signature: str, image: Image | None = None
    ) -> list[str]:
        target = conv.last_summoning_message_id
        if target is None:
            raise PermanentError(
                "x",
                f"X only accepts replies to posts that mention @{self.screen_name or 'the brand'}; "
                f"add {dm_marker(self.helpdesk)} to answer by DM instead",
            )
        posted: list[str] = []
        prefix = reply_writes(reply.ticket.helpdesk, reply.comment_id)[0]
        for index, part in enumerate(split_for_thread(body, signature)):
            key = f"{prefix}{index}"
            written = await write_once(self.store, self._post_write(key, target, part, image))
            post_id = written.id
            if image is not None:  # the first post carries it: its result says how, whichever attempt made it
                image.carried(written.carried)
            image = None
            await self.store.link_message(CHANNEL, post_id, conv.thread_key, "out", reply.comment_id)
            posted.append(post_id)
            target = post_id
        return posted

    def _post_write(self, key: str, target: str, text: str, image: Image | None) -> Write:
        async def send() -> str:
            media_ids = (image.media_id,) if image and image.media_id else ()
            return await self.x.post_reply(text, target, media_ids)

        prepare = self._uploader(image, for_dm=False) if image else None
        return Write(key, target, text, send, self.x.find_reply, prepare=prepare)

    def _uploader(self, image: Image, for_dm: bool) -> Callable[[], Awaitable[Carried]]:
        """Download the agent's image, check what its bytes are, upload it to X (before the intent).

        An image that cannot go (gone, not really an image, refused by X) is left out and named in the
        note; the reply goes out without it. A failure that may pass is retried with the job. What
        became of the image is kept with the write, so a retry that finds the write done can say it.
        """

        async def prepare() -> Carried:
            image.media_id, image.refused = None, None
            if self.media is None:
                return image.outcome()
            try:
                file = await self.helpdesk.download_attachment(image.ref, UPLOAD_MAX_BYTES)
                kind = sniff(file.data)
                if kind not in UPLOAD_TYPES:
                    image.refused = f"its content is not an image X takes ({kind or 'unknown type'})"
                    return image.outcome()
                image.media_id = await self.media.upload(replace(file, content_type=kind), for_dm)
            except PermanentError as exc:
                log.info("image %s of comment left out: %s", image.ref.id, exc.detail)
                image.refused = exc.detail
            return image.outcome()

        return prepare

    async def _send_dm(
        self, reply: AgentReply, conv: Conversation, body: str, signature: str, image: Image | None = None
    ) -> list[str]:
        text = body.strip() + signature
        if len(text) > DM_MAX_LENGTH:
            raise PermanentError(
                "x", f"a DM holds at most {DM_MAX_LENGTH} characters; this one has {len(text)}"
            )
        key = reply_writes(reply.ticket.helpdesk, reply.comment_id)[1]
        participant = conv.customer.id

        async def send() -> str:
            return await self.x.send_dm(participant, text, image.media_id if image else None)

        prepare = self._uploader(image, for_dm=True) if image else None
        write = Write(key, participant, text, send, self.x.find_dm, "DM", prepare)
        written = await write_once(self.store, write)
        dm_id = written.id
        if image is not None:
            image.carried(written.carried)
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
        reply = job.read(reply_from_json)
        text = f"⚠️ Not posted on X: {error}. The customer has not received this reply."
        posts, dm = reply_writes(reply.ticket.helpdesk, reply.comment_id)
        if await self.store.unconfirmed(posts) or await self.store.intent(dm):
            text = (
                f"⚠️ Not confirmed on X: {error}. This reply may have reached the customer: look at the "
                "conversation on X before sending it again."
            )
        conv = await self.store.conversation_for_ticket(reply.ticket)
        ordering = conv.thread_key if conv else f"{reply.ticket.helpdesk}:ticket:{reply.ticket.id}"
        await self.store.enqueue(
            [note_job(reply.ticket, text, f"{reply.ticket.helpdesk}:{reply.comment_id}:failed", ordering)]
        )
