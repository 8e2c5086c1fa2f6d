"""What customers do, as the webhook bodies X would deliver for it, in either envelope (Account Activity
and X Activity API), so that tests and the demo post exactly what X would.

As X does, every link of a text is delivered as a t.co link explained in `entities.urls`, and attached
media (`MediaFile`s, served by the `Media` part) add their own t.co link at the end of the text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sav_bridge.channels.x.text_parser import extract_urls_with_indices
from sav_bridge.sandbox.x.base import Customer, Post
from sav_bridge.sandbox.x.media import Media, MediaFile, Served


def linked(text: str) -> tuple[str, list[dict[str, Any]]]:
    """`text` as X delivers it (links as t.co) and its `entities.urls` (v1.1 `indices`, v2 `start`/`end`)."""
    urls: list[dict[str, Any]] = []
    for url in sorted(extract_urls_with_indices(text), key=lambda u: u["indices"][0], reverse=True):
        start, end = url["indices"]
        tco = "https://t.co/" + hashlib.sha256(url["url"].encode()).hexdigest()[:10]
        expanded = url["url"] if "://" in url["url"] else "http://" + url["url"]
        text = text[:start] + tco + text[end:]
        urls.insert(0, {"url": tco, "expanded_url": expanded, "display_url": url["url"].split("://")[-1]})
    position = 0
    for item in urls:
        start = text.index(item["url"], position)
        position = start + len(item["url"])
        item |= {"indices": [start, position], "start": start, "end": position}
    return text, urls


class Envelopes(Media):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The media a customer attached to a DM, by DM event id (what `GET /2/dm_events` shows too).
        self.dm_media: dict[str, Served] = {}

    def customer_post(
        self,
        who: Customer,
        text: str,
        in_reply_to: str | None = None,
        envelope: str = "aaa",
        media: Sequence[MediaFile] = (),
    ) -> dict[str, Any]:
        """A customer posts, with `media` attached; returns the webhook body X would deliver for it."""
        mentions = {self.account_id} if f"@{self.screen_name}".lower() in text.lower() else set()
        post = Post(self.next_id(), who.id, text, in_reply_to, mentions, self.clock())
        self.posts[post.id] = post
        parent = self.posts.get(in_reply_to) if in_reply_to else None
        served = [self.serve(item) for item in media]
        post.attached = list(served)
        if envelope == "xaa":
            return self._xaa_post(who, post, parent, served)
        return self._aaa_post(who, post, parent, served)

    def _aaa_post(
        self, who: Customer, post: Post, parent: Post | None, served: list[Served]
    ) -> dict[str, Any]:
        start = post.text.lower().find(f"@{self.screen_name}".lower())
        mentions = [
            {"screen_name": self.screen_name, "name": self.screen_name, "id_str": self.account_id,
             "id": int(self.account_id), "indices": [start, start + len(self.screen_name) + 1]}
        ] if post.mentions else []  # fmt: skip
        text, urls = linked(post.text)
        if served:
            text += " " + served[0].tco
        tweet: dict[str, Any] = {
            "created_at": datetime.fromtimestamp(self.clock(), UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "id": int(post.id),
            "id_str": post.id,
            "text": text if len(text) <= 140 else text[:139] + "…",
            "truncated": len(text) > 140,
            "in_reply_to_status_id_str": post.in_reply_to,
            "in_reply_to_user_id_str": parent.author_id if parent else None,
            "user": {"id": int(who.id), "id_str": who.id, "screen_name": who.screen_name, "name": who.name},
            "entities": {"hashtags": [], "urls": urls, "user_mentions": mentions, "symbols": []},
        }
        page = f"https://x.com/{who.screen_name}/status/{post.id}"
        extended = {
            "media": [
                self.v1_entity(m, f"{page}/{'photo' if m.kind == 'photo' else 'video'}/{n}")
                for n, m in enumerate(served, start=1)
            ]
        }
        if len(text) > 140:
            tweet["extended_tweet"] = {"full_text": text, "entities": tweet["entities"]}
            if served:
                tweet["extended_tweet"]["extended_entities"] = extended
        elif served:
            tweet["extended_entities"] = extended
        body: dict[str, Any] = {"for_user_id": self.account_id, "tweet_create_events": [tweet]}
        if post.mentions:
            body["user_has_blocked"] = "false"
        return body

    def _xaa_post(
        self, who: Customer, post: Post, parent: Post | None, served: list[Served]
    ) -> dict[str, Any]:
        root = post.id
        while parent is not None:
            root = parent.id
            parent = self.posts.get(parent.in_reply_to) if parent.in_reply_to else None
        text, urls = linked(post.text)
        if served:
            start = len(text) + 1
            text += " " + served[0].tco
            page = f"https://x.com/{who.screen_name}/status/{post.id}/photo/1"
            urls.append({"start": start, "end": len(text), "url": served[0].tco, "expanded_url": page,
                         "display_url": "pic.x.com/" + served[0].tco.rsplit("/", 1)[1], "media_key": served[0].key})  # fmt: skip
        payload: dict[str, Any] = {
            "id": post.id,
            "text": text,
            "author_id": who.id,
            "created_at": datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z"),
            "conversation_id": root,
            "edit_history_tweet_ids": [post.id],
            "entities": {
                "mentions": [{"username": self.screen_name, "id": self.account_id}] if post.mentions else [],
                "urls": [{k: v for k, v in u.items() if k != "indices"} for u in urls],
            },
        }
        includes: dict[str, Any] = {"users": [{"id": who.id, "username": who.screen_name, "name": who.name}]}
        if served:
            payload["attachments"] = {"media_keys": [m.key for m in served]}
            includes["media"] = [self.v2_include(m) for m in served]
        event_type = "post.reply.create" if post.in_reply_to else "post.mention.create"
        if post.in_reply_to:
            payload["in_reply_to_tweet_id"] = post.in_reply_to
            payload["referenced_tweets"] = [{"type": "replied_to", "id": post.in_reply_to}]
        return {
            "data": {
                "event_uuid": self.next_id(),
                "filter": {"user_id": self.account_id},
                "event_type": event_type,
                "tag": "sav-bridge",
                "payload": payload,
                "includes": includes,
            }
        }

    def customer_dm(
        self, who: Customer, text: str, envelope: str = "aaa", media: MediaFile | None = None
    ) -> dict[str, Any]:
        """A customer sends the brand a DM, with a file attached; returns the webhook body."""
        event_id = self.next_id()
        self.received_dms.append({"id": event_id, "from": who.id, "text": text})
        self._dm_times[event_id] = self.clock()
        text, urls = linked(text)
        message_data: dict[str, Any] = {
            "text": text,
            "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": urls},
        }
        if media is not None:
            served = self.serve(media, private=True, dm_id=event_id)
            self.dm_media[event_id] = served
            message_data["text"] = f"{text} {served.tco}".strip()
            page = f"https://x.com/messages/media/{event_id}"
            message_data["attachment"] = {"type": "media", "media": self.v1_entity(served, page)}
        event = {
            "type": "message_create",
            "id": event_id,
            "created_timestamp": str(int(self.clock() * 1000)),
            "message_create": {
                "target": {"recipient_id": self.account_id},
                "sender_id": who.id,
                "message_data": message_data,
            },
        }
        user = {"id": who.id, "screen_name": who.screen_name, "name": who.name}
        if envelope == "xaa":
            return {
                "data": {
                    "event_uuid": "-" + self.next_id(),
                    "filter": {"user_id": self.account_id},
                    "event_type": "dm.received",
                    "tag": "sav-bridge",
                    "payload": {
                        "direct_message_events": [event],
                        "users": {
                            who.id: {"data": {"id": who.id, "username": who.screen_name, "name": who.name}}
                        },
                    },
                }
            }
        return {"for_user_id": self.account_id, "direct_message_events": [event], "users": {who.id: user}}

    def brand_reply_on_x(self, text: str, in_reply_to: str) -> dict[str, Any]:
        """An agent answers on X itself, not through the helpdesk; returns the echo X delivers for it."""
        post = Post(self.next_id(), self.account_id, text, in_reply_to)
        self.posts[post.id] = post
        return self.echo_of(post.id)

    def echo_of(self, post_id: str) -> dict[str, Any]:
        """The Account Activity event X sends back for one of the brand's own posts."""
        post = self.posts[post_id]
        brand = {
            "id": int(self.account_id),
            "id_str": self.account_id,
            "screen_name": self.screen_name,
            "name": self.screen_name,
        }
        tweet = {
            "id_str": post.id,
            "text": post.text,
            "in_reply_to_status_id_str": post.in_reply_to,
            "user": brand,
        }
        return {"for_user_id": self.account_id, "tweet_create_events": [tweet]}
