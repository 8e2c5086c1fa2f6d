"""What care does with each customer message once it is on its ticket: follow-up jobs, never calls.

After the inbound flow has put a message on its ticket, `Care.after_delivery` decides, from the message and
from what care remembers of the conversation (`store.care`), what the ticket and the customer should get:

- a ticket update (priority raised for an unhappy customer, tags, the routing rule's group and fields);
- one internal note saying why, in words ("priority high: 3 messages in 10 minutes; 'inadmissible'");
- an acknowledgement to the customer (first message, or first after a long silence; once per cooldown),
  saying when the team is back when it is away;
- on a new conversation, the customer's history as a note;
- for personal data posted in public, a tag, a note suggesting a DM, and optionally a public invitation.

Each becomes a job whose idempotency key is derived from the message, so a retried delivery makes none of
them twice. The jobs that write to X or the helpdesk are run by `CareJobs`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sav_bridge.care.ack import customer_language
from sav_bridge.care.mood import Mood, MoodScorer
from sav_bridge.care.routing import Routed, merge
from sav_bridge.care.settings import CareSettings
from sav_bridge.care.texts import reopening_words
from sav_bridge.flows.outbound import note_job
from sav_bridge.helpdesks import Helpdesk, dm_marker, knows_history, updates_tickets
from sav_bridge.metrics import Metrics
from sav_bridge.model import MessageKind, SocialMessage, TicketRef, TicketUpdate
from sav_bridge.store import NewJob, Store
from sav_bridge.store.care import Seen, rank

log = logging.getLogger(__name__)

JOB_CARE_UPDATE = "care.update"
JOB_CARE_ACK = "care.ack"
JOB_CARE_HISTORY = "care.history"
#: Names of the personal data that make a public post worth moving to DM, as the policy's detectors say.
PERSONAL_WORDS = {
    "phone": "a phone number",
    "email": "an e-mail address",
    "reference": "an order, account or contract number",
    "card": "a card number",
    "iban": "an IBAN",
    "nir": "a social security number",
}

#: Which personal data a customer's text holds (kinds among PERSONAL_WORDS), from the posting policy.
PersonalFinder = Callable[[str], Sequence[str]]


class Care:
    def __init__(
        self,
        settings: CareSettings,
        store: Store,
        helpdesk: Helpdesk,
        metrics: Metrics,
        personal: PersonalFinder,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.store = store
        self.helpdesk = helpdesk
        self.metrics = metrics
        self.personal = personal
        self.clock = clock

    async def after_delivery(self, message: SocialMessage, ticket: TicketRef, opened: bool) -> list[NewJob]:
        """The follow-up jobs of a customer message that was just added to `ticket` (`opened`: new ticket)."""
        s = self.settings
        at = _epoch(message.created_at, self.clock())
        when = datetime.fromtimestamp(at, UTC)
        public = message.kind is not MessageKind.DM
        key = f"{message.channel}:{message.id}"
        seen = await self.store.care.record(
            key, message.thread_key, message.author.id, at, public, s.mood.burst_minutes * 60, ticket.id
        )
        language = customer_language(message.text, s.default_language)
        mood = s.mood.score(message.text, language, seen.recent, message.author.followers, public)
        tags = known_tags(seen, mood, s.mood)
        routed = (
            s.routing.route(message.text, language, message.kind.value, message.account_id, tags)
            if opened
            else None
        )
        acknowledge = self._ack_due(seen, at)
        # Outside hours, said (and tagged) once per wait: with the acknowledgement or on a new ticket.
        closed = s.hours.closed_reason(when) if opened or acknowledge else None
        reopening = s.hours.next_opening(when) if closed else None
        found = [kind for kind in self.personal(message.text) if kind in PERSONAL_WORDS] if public else []
        personal = bool(found) and s.personal.enabled

        asked = merge(routed.update if routed else TicketUpdate(), mood.update())
        raise_to = asked.priority if rank(asked.priority) > rank(seen.level) else None
        extra = ([s.hours.after_hours_tag] if closed else []) + ([s.personal.tag] if personal else [])
        update = replace(asked, priority=raise_to, tags=tuple(dict.fromkeys((*asked.tags, *extra))))
        lines = _raise_lines(raise_to, mood, routed)
        lines += [f"🧭 Routing rule «{name}»: {why}" for name, why in (routed.matched if routed else ())]
        if closed:
            back = f"; the team is back {reopening_words(reopening, when, 'en', True)}" if reopening else ""
            lines.append(f"🌙 Received outside office hours ({closed}){back}.")
        if personal:
            what = ", ".join(PERSONAL_WORDS[k] for k in dict.fromkeys(found))
            lines.append(
                f"🔒 The customer posted {what} in public: suggest continuing by DM "
                f"({dm_marker(self.helpdesk)} on your reply), and do not repeat it."
            )
        jobs: list[NewJob] = []
        if update and updates_tickets(self.helpdesk):
            jobs.append(update_job(ticket, update, f"{JOB_CARE_UPDATE}:{key}", message.thread_key))
            if raise_to:
                await self.store.care.raised(message.thread_key, raise_to)
                self.metrics.care_raised.labels("mood" if mood.level == raise_to else "routing").inc()
        elif update:
            lines.append(f"Care suggests {_describe(update)} (this helpdesk plugin does not apply it).")
        if acknowledge:
            jobs.append(self._ack(message, ticket, when, language, reopening))
            await self.store.care.acknowledged(key)
        if personal and s.personal.invite_publicly and message.mentions_brand:
            text = s.personal.invites.get(language) or s.personal.invites[s.default_language]
            jobs.append(_ack_job(message, ticket, text, "public", f"care.invite:{key}", "invite"))
        if lines:
            note = "Social care:\n" + "\n".join(lines)
            jobs.append(note_job(ticket, note, f"{ticket.helpdesk}:care:{key}", message.thread_key))
        if opened and s.history:
            jobs.append(self._history_job(message, ticket, seen.other_conversations, seen.first_contact))
        return jobs

    def _ack_due(self, seen: Seen, at: float) -> bool:
        """Whether this message is a conversation's first (or first after a long silence) with no
        acknowledgement within the cooldown."""
        ack = self.settings.ack
        first = seen.previous_at is None or at - seen.previous_at >= ack.silence_hours * 3600
        cooled = seen.last_ack_at is None or at - seen.last_ack_at >= ack.cooldown_hours * 3600
        return ack.enabled and first and cooled

    def _ack(
        self,
        message: SocialMessage,
        ticket: TicketRef,
        when: datetime,
        language: str,
        reopening: datetime | None,
    ) -> NewJob:
        """The acknowledgement job: by DM, or publicly when configured and the post mentions the brand."""
        ack = self.settings.ack
        text = ack.render(language, message.author.name, reopening, at=when)
        public = ack.via == "public" and message.kind is not MessageKind.DM and message.mentions_brand
        via = "public" if public else "dm"
        return _ack_job(message, ticket, text, via, f"{JOB_CARE_ACK}:{message.channel}:{message.id}", "ack")

    def _history_job(
        self, message: SocialMessage, ticket: TicketRef, others: int, first_contact: float | None
    ) -> NewJob:
        payload = {
            "ticket_id": ticket.id,
            "thread_key": message.thread_key,
            "customer": {
                "id": message.author.id,
                "screen_name": message.author.screen_name,
                "name": message.author.name,
            },
            "other_conversations": others,
            "first_contact": first_contact,
            "ask_helpdesk": knows_history(self.helpdesk),
        }
        key = f"{JOB_CARE_HISTORY}:{message.thread_key}:{ticket.id}"
        return NewJob(JOB_CARE_HISTORY, payload, key, care_ordering(message.thread_key))


def _ack_job(message: SocialMessage, ticket: TicketRef, text: str, via: str, key: str, what: str) -> NewJob:
    payload: dict[str, Any] = {
        "ticket_id": ticket.id,
        "thread_key": message.thread_key,
        "message_id": message.id,
        "customer_id": message.author.id,
        "text": text,
        "via": via,
        "what": what,
    }
    return NewJob(JOB_CARE_ACK, payload, key, f"{message.thread_key}:care-ack")


def known_tags(seen: Seen, mood: Mood, scorer: MoodScorer) -> tuple[str, ...]:
    """What care knows of the customer, for routing's `customer_tags`: `returning` (an earlier
    conversation through the gateway), `unhappy` and `influencer` (this message's mood)."""
    tags = ["returning"] if seen.other_conversations else []
    tags += ["unhappy"] if mood.level else []
    tags += ["influencer"] if scorer.influencer_tag in mood.tags else []
    return tuple(tags)


def care_ordering(thread_key: str) -> str:
    """Care's jobs keep their order among themselves, apart from the conversation's messages and replies:
    a care job that fails for good (a group id the helpdesk refuses) holds only care's later jobs of that
    conversation, never the customer's messages or the agents' replies. Acknowledgements have their own."""
    return f"{thread_key}:care"


def update_job(ticket: TicketRef, update: TicketUpdate, key: str, thread_key: str) -> NewJob:
    """A ticket update, in care's own order for the conversation (`care_ordering`)."""
    payload = {"ticket_id": ticket.id, "thread_key": thread_key, "update": update_to_json(update)}
    return NewJob(JOB_CARE_UPDATE, payload, key, care_ordering(thread_key))


def update_to_json(update: TicketUpdate) -> dict[str, Any]:
    return {
        "priority": update.priority,
        "tags": list(update.tags),
        "group": update.group,
        "brand": update.brand,
        "assignee": update.assignee,
        "fields": dict(update.fields),
    }


def update_from_json(data: dict[str, Any]) -> TicketUpdate:
    return TicketUpdate(
        priority=data.get("priority"),
        tags=tuple(str(t) for t in data.get("tags") or ()),
        group=data.get("group"),
        brand=data.get("brand"),
        assignee=data.get("assignee"),
        fields={str(k): str(v) for k, v in (data.get("fields") or {}).items()},
    )


def _raise_lines(raise_to: str | None, mood: Mood, routed: Routed | None) -> list[str]:
    """Why the priority goes up (the mood's reasons, or the routing rule), or that the mood already had it."""
    if raise_to is None:
        return [f"🔺 {mood.note()} (already asked)"] if mood.level and mood.reasons else []
    if mood.level == raise_to:
        return [f"🔺 {mood.note()}"]
    rule = f" (routing rule «{routed.matched[0][0]}»)" if routed and routed.matched else ""
    return [f"🔺 priority {raise_to}{rule}"]


def _describe(update: TicketUpdate) -> str:
    parts = [f"priority {update.priority}"] if update.priority else []
    parts += [f"tags {', '.join(update.tags)}"] if update.tags else []
    parts += [f"{name} {value}" for name, value in (("group", update.group), ("brand", update.brand),
                                                     ("assignee", update.assignee)) if value]  # fmt: skip
    parts += [f"{name} = {value}" for name, value in update.fields.items()]
    return "; ".join(parts)


def _epoch(created_at: str, fallback: float) -> float:
    """The message's time as the channel wrote it (ISO 8601), else now."""
    try:
        parsed = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
