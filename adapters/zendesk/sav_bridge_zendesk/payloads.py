"""Pure translations between our types and Zendesk JSON. No I/O, so every shape is unit-tested."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sav_bridge.model import (
    AgentReply,
    AttachmentRef,
    MessageKind,
    PastTicket,
    SocialMessage,
    SocialUser,
    TicketRef,
)
from sav_bridge.ticket_text import message_text, source_line, subject

HELPDESK = "zendesk"
TAG = "sav_bridge"
DM_TAG = "sav_dm"
KIND_TAGS = {MessageKind.MENTION: "x_mention", MessageKind.REPLY: "x_mention", MessageKind.DM: "x_dm"}
AGENT_ROLES = frozenset({"agent", "admin"})
WEBHOOK_NAME = "sav-bridge"
TRIGGER_TITLE = "sav-bridge: send public agent replies to X"
#: Care's priority levels are Zendesk's own words.
PRIORITIES = {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"}


def user_external_id(user: SocialUser) -> str:
    return f"x:{user.id}"


def user_upsert(user: SocialUser) -> dict[str, Any]:
    """`POST /api/v2/users/create_or_update`: matched on external_id, since screen names change."""
    body: dict[str, Any] = {
        "name": user.name or (f"@{user.screen_name}" if user.screen_name else f"X user {user.id}"),
        "external_id": user_external_id(user),
        "role": "end-user",
        "skip_verify_email": True,
    }
    if user.screen_name:
        body["identities"] = [{"type": "twitter", "value": user.screen_name}]
    return {"user": body}


def _comment(msg: SocialMessage, requester_id: int, uploads: list[str]) -> dict[str, Any]:
    comment: dict[str, Any] = {"body": message_text(msg), "public": True, "author_id": requester_id}
    if uploads:
        comment["uploads"] = uploads
    return comment


def ticket_create(
    msg: SocialMessage,
    requester_id: int,
    external_id: str,
    followup_of: str | None,
    uploads: list[str] | None = None,
) -> dict[str, Any]:
    ticket: dict[str, Any] = {
        "subject": subject(msg.text) or source_line(msg),
        "comment": _comment(msg, requester_id, uploads or []),
        "requester_id": requester_id,
        "external_id": external_id,
        "tags": [TAG, KIND_TAGS[msg.kind]],
    }
    if followup_of:
        ticket["via_followup_source_id"] = int(followup_of)
    return {"ticket": ticket}


def customer_comment(
    msg: SocialMessage, requester_id: int, reopen: bool, uploads: list[str] | None = None
) -> dict[str, Any]:
    ticket: dict[str, Any] = {"comment": _comment(msg, requester_id, uploads or [])}
    if reopen:
        ticket["status"] = "open"
    return {"ticket": ticket}


def internal_note(text: str) -> dict[str, Any]:
    return {"ticket": {"comment": {"body": text, "public": False}}}


def past_tickets(tickets: Any, exclude: TicketRef | None, limit: int) -> list[PastTicket]:
    """`GET /api/v2/users/{id}/tickets/requested` (newest first) as history entries, `exclude` left out."""
    found = []
    for ticket in tickets if isinstance(tickets, list) else []:
        if not isinstance(ticket, dict) or "id" not in ticket:
            continue
        if exclude is not None and str(ticket["id"]) == exclude.id:
            continue
        via = ticket.get("via")
        via = via if isinstance(via, dict) else {}
        found.append(
            PastTicket(
                id=str(ticket["id"]),
                subject=str(ticket.get("subject") or ticket.get("raw_subject") or ""),
                status=str(ticket.get("status") or "").lower(),
                created_at=str(ticket.get("created_at") or ""),
                updated_at=str(ticket.get("updated_at") or ""),
                channel=str(via.get("channel") or "").lower(),
            )
        )
    return found[:limit]


def agent_replies(
    ticket: TicketRef, comments: Mapping[str, Any], tags: list[str], me: int | None
) -> list[AgentReply]:
    """Public comments whose author is an agent (never the customer, never this gateway's own user)."""
    users = {u.get("id"): u for u in comments.get("users", []) if isinstance(u, dict)}
    wants_dm = DM_TAG in tags
    replies = []
    for comment in comments.get("comments", []):
        author = users.get(comment.get("author_id"), {})
        if (
            not comment.get("public")
            or author.get("role") not in AGENT_ROLES
            or comment.get("author_id") == me
        ):
            continue
        replies.append(
            AgentReply(
                ticket=ticket,
                comment_id=str(comment["id"]),
                body=str(comment.get("plain_body") or comment.get("body") or ""),
                agent_id=str(comment["author_id"]),
                agent_name=str(author.get("name") or ""),
                agent_email=author.get("email"),
                wants_dm=wants_dm,
                attachments=comment_attachments(comment),
            )
        )
    return replies


def comment_attachments(comment: Mapping[str, Any]) -> tuple[AttachmentRef, ...]:
    """A comment's files (`attachments[]`), leaving out deleted ones and those flagged as malware."""
    found = []
    for item in comment.get("attachments") or []:
        if (
            not isinstance(item, dict)
            or item.get("deleted")
            or item.get("malware_scan_result") == "malware_found"
        ):
            continue
        url, size = item.get("content_url"), item.get("size")
        if not isinstance(url, str) or not url.startswith("https://") or not isinstance(size, int):
            continue
        found.append(
            AttachmentRef(
                id=str(item.get("id", "")),
                filename=str(item.get("file_name") or "attachment"),
                content_type=str(item.get("content_type") or "application/octet-stream"),
                size=size,
                url=url,
            )
        )
    return tuple(found)


def webhook(public_url: str) -> dict[str, Any]:
    return {
        "webhook": {
            "name": WEBHOOK_NAME,
            "description": "Agent replies to social conversations, sent by sav-bridge to X.",
            "endpoint": public_url.rstrip("/") + "/webhooks/zendesk",
            "http_method": "POST",
            "request_format": "json",
            "status": "active",
            "subscriptions": ["conditional_ticket_events"],
        }
    }


def trigger(webhook_id: str) -> dict[str, Any]:
    """Rings the webhook when an agent adds a public comment to a ticket sav-bridge opened."""
    return {
        "trigger": {
            "title": TRIGGER_TITLE,
            "active": True,
            "conditions": {
                "all": [
                    {"field": "update_type", "operator": "is", "value": "Change"},
                    {"field": "comment_is_public", "operator": "is", "value": "true"},
                    {"field": "current_tags", "operator": "includes", "value": TAG},
                    {"field": "role", "operator": "is", "value": "agent"},
                ],
                "any": [],
            },
            "actions": [
                {
                    "field": "notification_webhook",
                    "value": [webhook_id, json.dumps({"ticket_id": "{{ticket.id}}"})],
                }
            ],
        }
    }
