"""Domain types shared by the core, the channels and the helpdesk plugins.

They are frozen value objects: vendor JSON is translated into them at the edges (channel parsers,
adapter `payloads.py`) and nothing vendor-specific leaks past that point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: Ticket priorities as the core names them, lowest first; each helpdesk plugin maps them to its own.
PRIORITY_LEVELS = ("low", "normal", "high", "urgent")


class MessageKind(StrEnum):
    """How a social message reached the brand."""

    MENTION = "mention"
    REPLY = "reply"
    DM = "dm"


class Audience(StrEnum):
    """Who will read a post: everyone, or only the customer."""

    PUBLIC = "public"
    DM = "dm"


@dataclass(frozen=True)
class SocialUser:
    """A customer (or the brand) on a social network; `id` is stable, `screen_name` may change."""

    id: str
    screen_name: str | None = None
    name: str | None = None
    #: How many accounts follow them, when the channel says (an influential complainer is answered first).
    followers: int | None = None


@dataclass(frozen=True)
class MediaVariant:
    """One encoding of a video or animated GIF: `bit_rate` in bits per second when the channel says."""

    url: str
    content_type: str | None = None
    bit_rate: int | None = None


@dataclass(frozen=True)
class Media:
    """A photo, video or animated GIF a customer attached, as the channel describes it (no bytes yet).

    `url` is the photo itself, or a video's still image; `variants` are a video's encodings. A `private`
    media (a DM's) can only be fetched with the brand's authorization, so its URLs are never shown to
    anyone; `page_url` is the public page people can open, when there is one.
    """

    kind: str
    url: str
    private: bool = False
    page_url: str | None = None
    variants: tuple[MediaVariant, ...] = ()
    duration_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "url": self.url,
            "private": self.private,
            "page_url": self.page_url,
            "variants": [
                {"url": v.url, "content_type": v.content_type, "bit_rate": v.bit_rate} for v in self.variants
            ],
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Media:
        return cls(
            kind=data["kind"],
            url=data["url"],
            private=bool(data.get("private")),
            page_url=data.get("page_url"),
            variants=tuple(MediaVariant(**v) for v in data.get("variants") or ()),
            duration_ms=data.get("duration_ms"),
        )


@dataclass(frozen=True)
class SocialMessage:
    """One inbound post or direct message, normalised from any envelope."""

    channel: str
    account_id: str
    id: str
    kind: MessageKind
    author: SocialUser
    text: str
    created_at: str
    thread_key: str
    in_reply_to: str | None = None
    mentions_brand: bool = False
    #: Photos, videos and GIFs attached to the message, in the order the customer attached them.
    media: tuple[Media, ...] = ()
    #: The links of the text, expanded (`text` shows them expanded too), without those of the media.
    links: tuple[str, ...] = ()

    @property
    def audience(self) -> Audience:
        return Audience.DM if self.kind is MessageKind.DM else Audience.PUBLIC

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "account_id": self.account_id,
            "id": self.id,
            "kind": self.kind.value,
            "author": {
                "id": self.author.id,
                "screen_name": self.author.screen_name,
                "name": self.author.name,
                **({"followers": self.author.followers} if self.author.followers is not None else {}),
            },
            "text": self.text,
            "created_at": self.created_at,
            "thread_key": self.thread_key,
            "in_reply_to": self.in_reply_to,
            "mentions_brand": self.mentions_brand,
            "media": [m.to_json() for m in self.media],
            "links": list(self.links),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SocialMessage:
        return cls(
            channel=data["channel"],
            account_id=data["account_id"],
            id=data["id"],
            kind=MessageKind(data["kind"]),
            author=SocialUser(**data["author"]),
            text=data["text"],
            created_at=data["created_at"],
            thread_key=data["thread_key"],
            in_reply_to=data.get("in_reply_to"),
            mentions_brand=bool(data.get("mentions_brand")),
            media=tuple(Media.from_json(m) for m in data.get("media") or ()),
            links=tuple(data.get("links") or ()),
        )


@dataclass(frozen=True)
class Attachment:
    """A file's bytes on their way into or out of a helpdesk; `content_type` is what the bytes are."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class AttachmentRef:
    """A file attached to a helpdesk comment, not downloaded yet; `id` and `url` are the helpdesk's own."""

    id: str
    filename: str
    content_type: str
    size: int
    url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "url": self.url,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttachmentRef:
        return cls(
            id=str(data["id"]),
            filename=str(data["filename"]),
            content_type=str(data["content_type"]),
            size=int(data["size"]),
            url=str(data["url"]),
        )


@dataclass(frozen=True)
class TicketRef:
    """A ticket in a helpdesk, as the helpdesk names it."""

    helpdesk: str
    id: str


@dataclass(frozen=True)
class Conversation:
    """A social thread and the ticket it feeds; `thread_key` is ours, stable across messages."""

    thread_key: str
    channel: str
    audience: Audience
    customer: SocialUser
    ticket: TicketRef | None = None
    last_customer_message_id: str | None = None
    last_summoning_message_id: str | None = None


@dataclass(frozen=True)
class AgentReply:
    """A public comment an agent wrote in the helpdesk, to be published on the social network."""

    ticket: TicketRef
    comment_id: str
    body: str
    agent_id: str
    agent_name: str
    agent_email: str | None = None
    wants_dm: bool = False
    #: Files the agent attached to the comment (one image of them can go out with the reply).
    attachments: tuple[AttachmentRef, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One thing the posting policy saw in a reply (filled in by `sav_bridge.policy`)."""

    rule: str
    category: str
    action: str
    start: int
    end: int
    detail: str = ""
    revealed_by: tuple[str, ...] = ()
    validators: dict[str, bool] = field(default_factory=dict)
    confidence: float = 1.0


@dataclass(frozen=True)
class Decision:
    """What the posting policy decided for one text and audience, and why."""

    action: str
    text: str | None
    findings: tuple[Finding, ...] = ()
    policy_version: str = ""
    switch_to_dm: bool = False


@dataclass(frozen=True)
class TicketUpdate:
    """What care asks of a ticket: tags added (never removed), a priority never lowered, and routing.

    Groups, brands, assignees and fields are logical names from the `care` configuration; each plugin maps
    them to its helpdesk's ids in its own section and skips (with a log line) a name it cannot map.
    """

    priority: str | None = None
    tags: tuple[str, ...] = ()
    group: str | None = None
    brand: str | None = None
    assignee: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.priority or self.tags or self.group or self.brand or self.assignee or self.fields)


@dataclass(frozen=True)
class PastTicket:
    """An earlier ticket of the same requester, as the helpdesk knows it (for the history note)."""

    id: str
    subject: str
    status: str
    created_at: str
    updated_at: str
    channel: str
