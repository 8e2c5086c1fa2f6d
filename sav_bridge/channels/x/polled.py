"""Pages read from X (`GET /2/users/{id}/mentions`, `GET /2/dm_events`) as the `ParsedBody` a webhook
body would have given.

The items go through the webhook parsers themselves (`events.v2_post`, `events.dm_event`), so a
message read by polling has the same id, thread key, deduplication key and media as the same message
delivered by a webhook, the brand's own posts are echoes and its own DMs are dropped the same way,
and an unreadable item is set aside without losing its neighbours. A DM's media (`attachments.media_keys`
resolved in `includes.media`) becomes the webhook's `message_data.attachment`: private to the
conversation, downloaded as the brand, its address never shown. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sav_bridge.channels.x import fields as f
from sav_bridge.channels.x.events import Echo, ParsedBody, dm_event, read_item, v2_post
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
        read_item(parsed, "mentions", post, _mention, account_id, users, includes)
    return parsed


def _mention(
    post: Any, account_id: str, users: Mapping[str, Any], includes: Mapping[str, Any]
) -> SocialMessage | Echo | str:
    if not isinstance(post, dict):
        raise MalformedRequest("items must be objects")
    # X's spec (2.167) calls the field `referenced_posts`; the webhook payloads `referenced_tweets`.
    if "referenced_tweets" not in post and "referenced_posts" in post:
        post = {**post, "referenced_tweets": post["referenced_posts"]}
    result = v2_post(post, MessageKind.REPLY, account_id, users, includes)
    # The mentions timeline holds only posts that mention (summon) the brand, whatever their entities say.
    return replace(result, mentions_brand=True) if isinstance(result, SocialMessage) else result


def parse_dm_events(page: Mapping[str, Any], account_id: str) -> ParsedBody:
    """A page of the brand's DM events (both directions: the brand's own are dropped as echoes)."""
    parsed = ParsedBody(account_id=account_id)
    users = {key: {"data": user} for key, user in _users(page).items()}
    media = {
        m["media_key"]: m
        for m in f.optional_list(f.obj(page.get("includes")).get("media"))
        if isinstance(m, dict) and isinstance(m.get("media_key"), str)
    }
    for event in items(page):
        read_item(parsed, "dm_events", event, _dm, account_id, users, media)
    return parsed


def _dm(
    event: Any, account_id: str, users: Mapping[str, Any], media: Mapping[str, Any]
) -> SocialMessage | str:
    """A v2 DM event, in the Account Activity shape the webhook parser reads."""
    if not isinstance(event, dict):
        raise MalformedRequest("items must be objects")
    if event.get("event_type") != "MessageCreate":
        return "ignored_type"
    urls = f.optional_list(f.obj(event.get("entities")).get("urls"))
    message_data: dict[str, Any] = {"text": event.get("text"), "entities": {"urls": urls}}
    keys = f.optional_list(f.obj(event.get("attachments")).get("media_keys"))
    attached = next((media[k] for k in keys if isinstance(k, str) and k in media), None)
    if attached is not None:  # X attaches one media to a DM
        message_data["attachment"] = {"type": "media", "media": _v1_media(attached, urls)}
    legacy = {
        "type": "message_create",
        "id": event.get("id"),
        "created_timestamp": _epoch_ms(event.get("created_at")),
        "message_create": {"sender_id": event.get("sender_id"), "message_data": message_data},
    }
    return dm_event(legacy, account_id, users, True)


def _v1_media(item: Mapping[str, Any], urls: list[Any]) -> dict[str, Any]:
    """An `includes.media` item as the v1.1 media object of a webhook DM's `attachment.media`.

    Its `url` is the t.co link X appended to the text for it (the `entities.urls` item naming the media,
    or pointing at X's page for a DM's media), which the webhook parser then removes from the text."""
    url = item.get("url") or item.get("preview_image_url")
    if not url:
        url = next((v.get("url") for v in f.optional_list(item.get("variants")) if isinstance(v, dict)), None)
    variants = [
        {"bitrate": v.get("bit_rate"), "content_type": v.get("content_type"), "url": v.get("url")}
        for v in f.optional_list(item.get("variants"))
        if isinstance(v, dict)
    ]
    legacy: dict[str, Any] = {"type": item.get("type"), "media_url_https": url}
    if variants:
        legacy["video_info"] = {"variants": variants, "duration_millis": item.get("duration_ms")}
    link = next(
        (
            u["url"]
            for u in urls
            if isinstance(u, dict)
            and isinstance(u.get("url"), str)
            and (
                u.get("media_key") == item.get("media_key")
                or "/messages/media/" in str(u.get("expanded_url"))
            )
        ),
        None,
    )
    if link is not None:
        legacy["url"] = link
    return legacy


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
