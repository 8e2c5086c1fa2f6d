"""Inbound: X events become tickets, or comments on their conversation's ticket."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sav_bridge.channels.x.events import CHANNEL, ParsedBody
from sav_bridge.channels.x.facts import LAST_EVENT_FACT
from sav_bridge.channels.x.health import REVOKED_FACT
from sav_bridge.channels.x.media import MediaRefused, XMedia, candidates, describe
from sav_bridge.channels.x.polled import newest_id
from sav_bridge.flows.outbound import note_job
from sav_bridge.helpdesks import Helpdesk, accepts_attachments
from sav_bridge.metrics import Metrics
from sav_bridge.model import Attachment, Conversation, Media, MessageKind, SocialMessage
from sav_bridge.store import Job, NewJob, Store
from sav_bridge.store.ingest import Inbox

if TYPE_CHECKING:
    from sav_bridge.care.pipeline import Care

log = logging.getLogger(__name__)

JOB_SOCIAL_MESSAGE = "x.message"


@dataclass
class AcceptResult:
    """What an inbound body produced, for the HTTP answer and the logs."""

    accepted: int = 0
    duplicates: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "dropped": self.dropped}


async def accept_x_body(
    store: Store, metrics: Metrics, parsed: ParsedBody, webhook: bool = True
) -> AcceptResult:
    """Store each message of an authenticated, parsed X body with its delivery job; duplicates are absorbed.

    The brand's own posts (echoes) make no job but record their place in the thread, so that a customer
    answering an agent who replied natively on X lands on the conversation's ticket. Items read by
    polling come here too (`webhook=False`): same event ids, so a message seen both ways is one event.
    """
    result = AcceptResult(dropped=dict(parsed.dropped))
    for reason, count in parsed.dropped.items():
        metrics.events_dropped.labels(CHANNEL, reason).inc(count)
    if parsed.brand_revoked:
        metrics.x_revocations.inc()
        await store.state.put(REVOKED_FACT, {"at": store.clock(), "account_id": parsed.account_id})
        log.error(
            "X: the brand account %s revoked this app's access; X stops sending its events and posts will "
            "fail until the account authorises the app again",
            parsed.account_id,
        )

    async def keep(inbox: Inbox) -> list[tuple[SocialMessage, bool]]:
        """The whole body in one unit of a group commit: its events, their jobs and links, and (for a
        webhook) the fact that X's webhook delivered, all durable together or not at all."""
        for echo in parsed.echoes:
            parent = await inbox.thread_of(CHANNEL, echo.in_reply_to) if echo.in_reply_to else None
            await inbox.link(CHANNEL, echo.id, parent or echo.thread_key, "out")
        kept = []
        for message in parsed.messages:
            message = await _thread(inbox, message)
            kept.append((message, await inbox.accept(*_event(message))))
        if webhook:
            inbox.update_fact(LAST_EVENT_FACT, lambda last: _webhook_seen(last, parsed, inbox.now))
        return kept

    for message, new in await store.inbound(keep):
        if new:
            result.accepted += 1
            metrics.events_in.labels(CHANNEL, message.kind.value).inc()
        else:
            result.duplicates += 1
    return result


def _event(
    message: SocialMessage,
) -> tuple[str, str, str, dict[str, Any], list[NewJob], tuple[str, str, str]]:
    """`Inbox.accept`'s arguments for a customer's message: the event, its delivery job and its link."""
    group = "dm" if message.kind is MessageKind.DM else "post"
    payload = message.to_json()
    job = NewJob(
        JOB_SOCIAL_MESSAGE, payload, f"{JOB_SOCIAL_MESSAGE}:{group}:{message.id}", message.thread_key
    )
    event_id = f"{message.account_id}:{group}:{message.id}"
    return CHANNEL, event_id, message.kind.value, payload, [job], (CHANNEL, message.id, message.thread_key)


def _webhook_seen(last: Any, parsed: ParsedBody, now: float) -> dict[str, Any]:
    last = last if isinstance(last, dict) else {}
    posts = [m.id for m in parsed.messages if m.kind is not MessageKind.DM] + [e.id for e in parsed.echoes]
    dms = [m.id for m in parsed.messages if m.kind is MessageKind.DM]
    return {
        "at": now,
        "post_id": newest_id([last.get("post_id"), *posts]),
        "dm_id": newest_id([last.get("dm_id"), *dms]),
    }


async def _thread(inbox: Inbox, message: SocialMessage) -> SocialMessage:
    """Attach a reply to the thread of the post it answers, when we know that post (ours or theirs)."""
    if message.kind is MessageKind.DM or not message.in_reply_to:
        return message
    thread_key = await inbox.thread_of(CHANNEL, message.in_reply_to)
    if thread_key and thread_key != message.thread_key:
        return replace(message, thread_key=thread_key)
    return message


class InboundFlow:
    """Handler of `x.message` jobs."""

    def __init__(
        self,
        store: Store,
        helpdesk: Helpdesk,
        metrics: Metrics,
        media: XMedia | None = None,
        care: Care | None = None,
    ) -> None:
        self.store = store
        self.helpdesk = helpdesk
        self.metrics = metrics
        self.media = media
        #: Social care (`care` section): what follows a message once it is on its ticket.
        self.care = care

    async def deliver(self, job: Job) -> list[NewJob] | None:
        message, attachments = await self._with_media(job.read(SocialMessage.from_json))
        files: dict[str, Any] = {"attachments": attachments} if attachments else {}
        conv = await self.store.conversation(message.thread_key) or Conversation(
            thread_key=message.thread_key,
            channel=message.channel,
            audience=message.audience,
            customer=message.author,
        )
        retry = job.attempts > 1
        if conv.ticket is None:
            ticket = await self.helpdesk.open_ticket(conv, message, job.idempotency_key, retry, **files)
            self.metrics.tickets_opened.inc()
            log.info("opened ticket %s for %s", ticket.id, message.thread_key)
        else:
            ticket = await self.helpdesk.add_customer_message(
                conv.ticket, message, job.idempotency_key, retry, **files
            )
            self.metrics.comments_added.inc()
            log.info("added %s %s to ticket %s", message.kind.value, message.id, ticket.id)
        await self.store.save_conversation(
            replace(
                conv,
                customer=message.author if message.author.screen_name else conv.customer,
                ticket=ticket,
                last_customer_message_id=message.id,
                last_summoning_message_id=message.id
                if message.mentions_brand
                else conv.last_summoning_message_id,
            )
        )
        if self.care is None:
            return None
        opened = conv.ticket is None or conv.ticket.id != ticket.id  # a new ticket, or a follow-up ticket
        return await self.care.after_delivery(message, ticket, opened)

    async def _with_media(self, message: SocialMessage) -> tuple[SocialMessage, list[Attachment]]:
        """Download the message's media here, in the worker (never while X's webhook request is open).

        A media that will never be attached (gone, too large, of a type not allowed) becomes a line in
        the comment and the message goes on; one that may download later (5xx, timeout) raises
        `RetryableError`, so the job is retried as any other. A helpdesk without files gets links to
        public media, and for a DM's media only a line: its address needs the brand's authorization.
        """
        if not message.media:
            return message, []
        takes_files = self.media is not None and accepts_attachments(self.helpdesk)
        attachments: list[Attachment] = []
        lines: list[str] = []
        for index, item in enumerate(message.media, start=1):
            what = describe(item) if len(message.media) == 1 else f"{describe(item)} {index}"
            if not takes_files or self.media is None:
                lines.append(_link_line(item, what))
                continue
            try:
                attachments.append(await self.media.download(item))
            except MediaRefused as exc:
                log.info(
                    "media %s of %s %s not attached: %s", index, message.kind.value, message.id, exc.reason
                )
                seen = "" if item.private else f" See it on X: {_public_url(item)}"
                lines.append(f"⚠️ The customer's {what} could not be attached: {exc.reason}.{seen}")
        if not lines:
            return message, attachments
        text = "\n\n".join(part for part in (message.text, "\n".join(lines)) if part)
        return replace(message, text=text), attachments

    async def on_dead(self, job: Job, error: str) -> None:
        """A customer's message will not reach the helpdesk: alert, and tell the agents on its ticket."""
        thread_key = job.ordering_key
        log.error("a customer message of %s was not delivered to the helpdesk: %s", thread_key, error)
        conv = await self.store.conversation(thread_key)
        if conv is None or conv.ticket is None:
            return
        where = job.payload.get("id") if isinstance(job.payload.get("id"), str) else "?"
        text = (
            f"⚠️ A message from the customer on X (id {where}) could not be added to this ticket: {error}. "
            "Read it on X; an operator can replay it from the dead letters."
        )
        await self.store.enqueue(
            [note_job(conv.ticket, text, f"{conv.ticket.helpdesk}:lost:{job.id}", thread_key)]
        )


def _public_url(item: Media) -> str:
    """Where a person sees a public media: the photo itself, a video's page (or its file)."""
    if item.kind == "photo":
        return item.url
    return item.page_url or next(iter(candidates(item, 1 << 62)), item.url)


def _link_line(item: Media, what: str) -> str:
    if item.private:
        return f"📎 The customer sent a {what} in this DM; only the conversation on X shows it."
    return f"📎 {what[0].upper()}{what[1:]}: {_public_url(item)}"
