"""Pages read from X (`GET /2/users/{id}/mentions`, `GET /2/dm_events`) as the `ParsedBody` a webhook
body would have given.

The items go through the webhook parsers themselves (`events._v2_post`, `events._dm_event`), so a
message read by polling has the same id, thread key and deduplication key as the same message
delivered by a webhook, the brand's own posts are echoes and its own DMs are dropped the same way,
and an unreadable item is set aside without losing its neighbours. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sav_bridge.channels.x import fields as f
from sav_bridge.channels.x.events import Echo, ParsedBody, _dm_event, _read, _v2_post
from sav_bridge.errors import MalformedRequest
from sav_bridge.model import MessageKind, SocialMessage


def items(page: Mapping[str, Any]) -> list[Any]:
    """The page's `data` (X leaves it out of an empty page)."""
    return f.optional_list(page.get("data"))


def _users(page: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        u["id"]: u
        for u in f.optional_list(f.obj(page.get("includes")).get("users"))
        if isinstance(u, dict) and isinstance(u.get("id"), str)
    }


def parse_mentions(page: Mapping[str, Any], account_id: str) -> ParsedBody:
    """A page of the brand's mentions timeline."""
    parsed = ParsedBody(account_id=account_id)
    users = _users(page)
    includes = f.obj(page.get("includes"))  # the media the posts' `attachments.media_keys` name
    for post in items(page):
        _read(parsed, "mentions", post, _mention, account_id, users, includes)
    return parsed


def _mention(
    post: Any, account_id: str, users: Mapping[str, Any], includes: Mapping[str, Any]
) -> SocialMessage | Echo | str:
    if not isinstance(post, dict):
        raise MalformedRequest("items must be objects")
    # X's spec (2.167) calls the field `referenced_posts`; the webhook payloads `referenced_tweets`.
    if "referenced_tweets" not in post and "referenced_posts" in post:
        post = {**post, "referenced_tweets": post["referenced_posts"]}
    result = _v2_post(post, MessageKind.REPLY, account_id, users, includes)
    # The mentions timeline holds only posts that mention (summon) the brand, whatever their entities say.
    return replace(result, mentions_brand=True) if isinstance(result, SocialMessage) else result


def parse_dm_events(page: Mapping[str, Any], account_id: str) -> ParsedBody:
    """A page of the brand's DM events (both directions: the brand's own are dropped as echoes)."""
    parsed = ParsedBody(account_id=account_id)
    users = {key: {"data": user} for key, user in _users(page).items()}
    for event in items(page):
        _read(parsed, "dm_events", event, _dm, account_id, users)
    return parsed


def _dm(event: Any, account_id: str, users: Mapping[str, Any]) -> SocialMessage | str:
    """A v2 DM event, in the Account Activity shape the webhook parser reads."""
    if not isinstance(event, dict):
        raise MalformedRequest("items must be objects")
    if event.get("event_type") != "MessageCreate":
        return "ignored_type"
    legacy = {
        "type": "message_create",
        "id": event.get("id"),
        "created_timestamp": _epoch_ms(event.get("created_at")),
        "message_create": {
            "sender_id": event.get("sender_id"),
            "message_data": {"text": event.get("text")},
        },
    }
    return _dm_event(legacy, account_id, users, True)


def _epoch_ms(value: Any) -> str | None:
    iso = f.v2_time(value)
    return str(int(datetime.fromisoformat(iso).timestamp() * 1000)) if iso else None


def newest_id(ids: list[Any]) -> str | None:
    """The newest of X ids (numeric strings; X's ids grow with time); None when there is none."""
    valid = [i for i in ids if f.optional_id(i)]
    return max(valid, key=int) if valid else None


def created_at(item: Any) -> float | None:
    """An item's `created_at` as epoch seconds, when it has a readable one."""
    iso = f.v2_time(item.get("created_at")) if isinstance(item, dict) else ""
    return datetime.fromisoformat(iso).timestamp() if iso else None
