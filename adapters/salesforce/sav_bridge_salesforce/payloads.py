"""Pure translations between our types and Salesforce's REST JSON. No I/O, so every shape is unit-tested."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sav_bridge.model import AgentReply, PastTicket, SocialMessage, SocialUser, TicketRef
from sav_bridge.ticket_text import message_text, source_line, subject

HELPDESK = "salesforce"
STATUS_NEW = "New"
#: Salesforce's limits: Case.Subject 255 and Case.Description 32,000 characters, CaseComment.CommentBody
#: 4,000 bytes.
SUBJECT_MAX = 255
DESCRIPTION_MAX = 32_000
COMMENT_MAX = 4_000
#: Internal users; portal and community customers (who can comment too) have other user types.
AGENT_USER_TYPE = "Standard"
#: Characters an external id may keep in a URL path (a dot followed by a TLD-like suffix makes Salesforce 404).
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")

#: Care's priority levels on the default Case Priority picklist (High, Medium, Low); `salesforce.priorities`
#: overrides them for an org with more values (urgent: Critical).
PRIORITIES = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}
#: Cases have no tags: they are kept in a text field, separated as a multi-select picklist's values are.
TAG_SEPARATOR = ";"
TAGS_MAX = 255
CASE_HISTORY_FIELDS = "Id, CaseNumber, Subject, Status, Origin, CreatedDate, LastModifiedDate"

COMMENT_FIELDS = (
    "Id, ParentId, CommentBody, IsPublished, CreatedDate, CreatedById, "
    "CreatedBy.Name, CreatedBy.Email, CreatedBy.UserType"
)


def is_record_id(value: str) -> bool:
    """A 15- or 18-character Salesforce id (what may go into a URL path or a SOQL literal unescaped)."""
    return _ID.fullmatch(value) is not None


def external_key(key: str) -> str:
    """Our idempotency key as the Case's external id: kept when URL- and dot-safe, else a digest of it."""
    if _URL_SAFE.fullmatch(key):
        return key
    return "k-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def clip(text: str, limit: int) -> str:
    """`text` within Salesforce's field length, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_bytes(text: str, limit: int) -> str:
    """`text` within `limit` UTF-8 bytes (CommentBody counts bytes: "é" is two), an ellipsis marking a cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode("utf-8", "ignore") + "…"


def contact_upsert(user: SocialUser) -> dict[str, Any]:
    """`PATCH sobjects/Contact/<external id field>/<X user id>`: the name as X shows it, split for Salesforce.

    LastName is required; a one-word name is all LastName. The external id itself is in the URL, never
    in the body (Salesforce refuses it there).
    """
    name = (user.name or "").strip() or (f"@{user.screen_name}" if user.screen_name else f"X user {user.id}")
    first, _, last = name.rpartition(" ")
    body: dict[str, Any] = {"LastName": clip(last or name, 80)}
    if first:
        body["FirstName"] = clip(first, 40)
    return body


def case_upsert(msg: SocialMessage, contact_id: str, origin: str) -> dict[str, Any]:
    """`PATCH sobjects/Case/<external id field>/<key>`: a new case for a new X conversation."""
    return {
        "Subject": clip(subject(msg.text) or source_line(msg), SUBJECT_MAX),
        "Description": clip(message_text(msg), DESCRIPTION_MAX),
        "Origin": origin,
        "Status": STATUS_NEW,
        "ContactId": contact_id,
    }


def comment(case_id: str, text: str, published: bool) -> dict[str, Any]:
    """`POST sobjects/CaseComment`: published for the customer's words, unpublished for our notes."""
    return {"ParentId": case_id, "CommentBody": clip_bytes(text, COMMENT_MAX), "IsPublished": published}


def comments_query(case_id: str) -> str:
    """Every comment of a case, oldest first, with its author (`case_id` must be a record id)."""
    if not is_record_id(case_id):
        raise ValueError(f"not a Salesforce record id: {case_id!r}")
    return f"SELECT {COMMENT_FIELDS} FROM CaseComment WHERE ParentId = '{case_id}' ORDER BY CreatedDate, Id"


def history_query(contact_id: str, limit: int) -> str:
    """A contact's cases, newest first (`contact_id` must be a record id)."""
    if not is_record_id(contact_id):
        raise ValueError(f"not a Salesforce record id: {contact_id!r}")
    return (f"SELECT {CASE_HISTORY_FIELDS} FROM Case WHERE ContactId = '{contact_id}' "
            f"ORDER BY CreatedDate DESC, Id DESC LIMIT {int(limit)}")  # fmt: skip


def iso_utc(stamp: object) -> str:
    """Salesforce's `2024-05-02T09:00:00.000+0000` as ISO 8601 UTC (`2024-05-02T09:00:00Z`)."""
    text = str(stamp or "")
    if text.endswith("+0000"):
        text = text[: -len("+0000")]
        text = (text.split(".")[0] if "." in text else text) + "Z"
    return text


def past_tickets(
    records: Iterable[Mapping[str, Any]], exclude: TicketRef | None, limit: int
) -> list[PastTicket]:
    """The history query's records as history entries, `exclude` left out."""
    found = []
    for record in records:
        if not isinstance(record.get("Id"), str):
            continue
        if exclude is not None and same_id(record["Id"], exclude.id):
            continue
        found.append(
            PastTicket(
                id=str(record["Id"]),
                subject=str(record.get("Subject") or record.get("CaseNumber") or ""),
                status=str(record.get("Status") or "").lower(),
                created_at=iso_utc(record.get("CreatedDate")),
                updated_at=iso_utc(record.get("LastModifiedDate")),
                channel=str(record.get("Origin") or "").lower(),
            )
        )
    return found[:limit]


def tags_of(value: object) -> list[str]:
    """The tags kept in the case's tags field."""
    return [tag for tag in str(value or "").split(TAG_SEPARATOR) if tag]


def tags_value(tags: list[str]) -> tuple[str, list[str]]:
    """The field's new value, and the tags left out because the field is full (the first ones are kept)."""
    kept: list[str] = []
    for tag in tags:
        if len(TAG_SEPARATOR.join([*kept, tag])) > TAGS_MAX:
            return TAG_SEPARATOR.join(kept), tags[len(kept) :]
        kept.append(tag)
    return TAG_SEPARATOR.join(kept), []


def same_text(record: Mapping[str, Any], text: str) -> bool:
    """Whether a comment holds `text` as we would write it (whitespace aside)."""
    stored = str(record.get("CommentBody") or "")
    return " ".join(stored.split()) == " ".join(clip_bytes(text, COMMENT_MAX).split())


def same_id(a: object, b: str) -> bool:
    """Salesforce ids compared on their 15 case-sensitive characters (18-character ids add a checksum)."""
    return isinstance(a, str) and a[:15] == b[:15]


def agent_replies(
    ticket: TicketRef, records: Iterable[Mapping[str, Any]], me: str, wants_dm: bool
) -> list[AgentReply]:
    """Published comments by internal users other than the gateway's own, oldest first."""
    replies = []
    for record in records:
        created_by = record.get("CreatedBy")
        author: Mapping[str, Any] = created_by if isinstance(created_by, Mapping) else {}
        creator = record.get("CreatedById")
        if record.get("IsPublished") is not True or not isinstance(creator, str) or same_id(creator, me):
            continue
        if author.get("UserType") != AGENT_USER_TYPE or not isinstance(record.get("Id"), str):
            continue
        replies.append(
            AgentReply(
                ticket=ticket,
                comment_id=str(record["Id"]),
                body=str(record.get("CommentBody") or ""),
                agent_id=creator,
                agent_name=str(author.get("Name") or ""),
                agent_email=author.get("Email") if isinstance(author.get("Email"), str) else None,
                wants_dm=wants_dm,
            )
        )
    return replies
