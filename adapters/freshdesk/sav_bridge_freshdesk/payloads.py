"""Pure translations between our types and Freshdesk API v2 JSON. No I/O, so every shape is unit-tested."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sav_bridge.model import AgentReply, MessageKind, PastTicket, SocialMessage, SocialUser, TicketRef
from sav_bridge.ticket_text import message_text, source_line, subject

HELPDESK = "freshdesk"
TAG = "sav_bridge"
DM_TAG = "sav_dm"
KIND_TAGS = {MessageKind.MENTION: "x_mention", MessageKind.REPLY: "x_mention", MessageKind.DM: "x_dm"}
#: The ticket custom field (single-line text, label "sav_bridge_key") the admin creates; it holds our
#: idempotency key, looked up before a retried create. Freshdesk names custom fields `cf_<label>` in the API.
KEY_FIELD = "cf_sav_bridge_key"
#: Ticket `source` 2 (portal): the create API documents 1, 2, 3, 7, 9, 10 as accepted; 5 (Twitter) may be
#: reserved for Freshdesk's own Twitter channel (vendor CONTRACTS §3.2).
SOURCE = 2
PRIORITY_LOW = 1
STATUS_OPEN = 2
#: Care's priority levels as Freshdesk's numbers (1 low, 2 medium, 3 high, 4 urgent).
PRIORITIES = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
STATUSES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
#: Ticket `source` codes (vendor CONTRACTS §3.2: the python-freshdesk model, and 9 and 10 from the API docs).
SOURCES = {1: "email", 2: "portal", 3: "phone", 4: "forum", 5: "twitter", 6: "facebook", 7: "chat",
           9: "feedback widget", 10: "outbound email"}  # fmt: skip
#: `updated_since` for a requester's whole history: without it Freshdesk lists the last 30 days only.
SINCE_EVER = "2000-01-01T00:00:00Z"
#: Resolved and closed: a customer who writes again reopens the ticket.
REOPEN_STATUSES = frozenset({4, 5})
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<br\s*/?>|</(?:div|p)>", re.I)


def unique_external_id(user: SocialUser) -> str:
    return f"x:{user.id}"


def contact_create(user: SocialUser) -> dict[str, Any]:
    """`POST /api/v2/contacts`: keyed on the X user id (screen names change), the handle as `twitter_id`."""
    body: dict[str, Any] = {
        "name": user.name or (f"@{user.screen_name}" if user.screen_name else f"X user {user.id}"),
        "unique_external_id": unique_external_id(user),
    }
    if user.screen_name:
        body["twitter_id"] = user.screen_name
    return body


def to_html(text: str) -> str:
    """Freshdesk bodies are HTML: the text escaped, its line breaks kept."""
    return "<div>" + html.escape(text).replace("\n", "<br>") + "</div>"


def to_text(body: str) -> str:
    """A conversation's text from its HTML body, for bodies that come without `body_text`."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", body))).strip()


def same_text(conversation: Mapping[str, Any], text: str) -> bool:
    """Whether a conversation holds `text` (whitespace aside: Freshdesk rewraps what it stores)."""
    stored = conversation.get("body_text") or to_text(str(conversation.get("body") or ""))
    return " ".join(str(stored).split()) == " ".join(text.split())


def ticket_create(msg: SocialMessage, requester_id: int, key: str) -> dict[str, Any]:
    return {
        "subject": subject(msg.text) or source_line(msg),
        "description": to_html(message_text(msg)),
        "requester_id": requester_id,
        "status": STATUS_OPEN,
        "priority": PRIORITY_LOW,
        "source": SOURCE,
        "tags": [TAG, KIND_TAGS[msg.kind]],
        "custom_fields": {KEY_FIELD: key},
    }


def past_tickets(tickets: Any, exclude: TicketRef | None, limit: int) -> list[PastTicket]:
    """`GET /api/v2/tickets` (newest first) as history entries, status and source codes as words."""
    found = []
    for ticket in tickets if isinstance(tickets, list) else []:
        if not isinstance(ticket, dict) or "id" not in ticket:
            continue
        if exclude is not None and str(ticket["id"]) == exclude.id:
            continue
        status, source = ticket.get("status"), ticket.get("source")
        found.append(
            PastTicket(
                id=str(ticket["id"]),
                subject=str(ticket.get("subject") or ""),
                status=STATUSES.get(status, f"status {status}") if isinstance(status, int) else "unknown",
                created_at=str(ticket.get("created_at") or ""),
                updated_at=str(ticket.get("updated_at") or ""),
                channel=SOURCES.get(source, f"source {source}") if isinstance(source, int) else "unknown",
            )
        )
    return found[:limit]


def customer_note(msg: SocialMessage, contact_id: int) -> dict[str, Any]:
    """The customer's follow-up: a public note marked incoming, authored by the contact (never a reply,
    which e-mails the requester)."""
    return {"body": to_html(message_text(msg)), "incoming": True, "private": False, "user_id": contact_id}


def internal_note(text: str) -> dict[str, Any]:
    return {"body": to_html(text), "private": True}


def agent_replies(
    ticket: TicketRef,
    conversations: Iterable[Mapping[str, Any]],
    tags: list[str],
    agents: Mapping[int, Mapping[str, Any]],
    me: int | None,
) -> list[AgentReply]:
    """Public, outgoing conversations by an agent (`agents`, by id), never this gateway's own user."""
    wants_dm = DM_TAG in tags
    replies = []
    for item in conversations:
        author = item.get("user_id")
        if item.get("private") or item.get("incoming") or not isinstance(author, int) or author == me:
            continue
        if author not in agents:
            continue
        contact = agents[author].get("contact") or {}
        replies.append(
            AgentReply(
                ticket=ticket,
                comment_id=str(item["id"]),
                body=str(item.get("body_text") or to_text(str(item.get("body") or ""))),
                agent_id=str(author),
                agent_name=str(contact.get("name") or ""),
                agent_email=contact.get("email"),
                wants_dm=wants_dm,
            )
        )
    return replies
