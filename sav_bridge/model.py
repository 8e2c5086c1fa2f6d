"""Domain types shared by the core, the channels and the helpdesk plugins.

They are frozen value objects: vendor JSON is translated into them at the edges (channel parsers,
adapter `payloads.py`) and nothing vendor-specific leaks past that point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
            },
            "text": self.text,
            "created_at": self.created_at,
            "thread_key": self.thread_key,
            "in_reply_to": self.in_reply_to,
            "mentions_brand": self.mentions_brand,
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
