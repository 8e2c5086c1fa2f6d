"""What customers do, as the webhook bodies X would deliver for it, in either envelope (Account Activity
and X Activity API), so that tests and the demo post exactly what X would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sav_bridge.sandbox.x.base import Customer, FakeXBase, Post


class Envelopes(FakeXBase):
    def customer_post(
        self, who: Customer, text: str, in_reply_to: str | None = None, envelope: str = "aaa"
    ) -> dict[str, Any]:
        """A customer posts; returns the webhook body X would deliver for it."""
        mentions = {self.account_id} if f"@{self.screen_name}".lower() in text.lower() else set()
        post = Post(self.next_id(), who.id, text, in_reply_to, mentions, self.clock())
        self.posts[post.id] = post
        parent = self.posts.get(in_reply_to) if in_reply_to else None
        if envelope == "xaa":
            return self._xaa_post(who, post, parent)
        return self._aaa_post(who, post, parent)

    def _aaa_post(self, who: Customer, post: Post, parent: Post | None) -> dict[str, Any]:
        start = post.text.lower().find(f"@{self.screen_name}".lower())
        mentions = [
            {"screen_name": self.screen_name, "name": self.screen_name, "id_str": self.account_id,
             "id": int(self.account_id), "indices": [start, start + len(self.screen_name) + 1]}
        ] if post.mentions else []  # fmt: skip
        tweet: dict[str, Any] = {
            "created_at": datetime.fromtimestamp(self.clock(), UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "id": int(post.id),
            "id_str": post.id,
            "text": post.text if len(post.text) <= 140 else post.text[:139] + "…",
            "truncated": len(post.text) > 140,
            "in_reply_to_status_id_str": post.in_reply_to,
            "in_reply_to_user_id_str": parent.author_id if parent else None,
            "user": {"id": int(who.id), "id_str": who.id, "screen_name": who.screen_name, "name": who.name},
            "entities": {"hashtags": [], "urls": [], "user_mentions": mentions, "symbols": []},
        }
        if len(post.text) > 140:
            tweet["extended_tweet"] = {"full_text": post.text, "entities": tweet["entities"]}
        body: dict[str, Any] = {"for_user_id": self.account_id, "tweet_create_events": [tweet]}
        if post.mentions:
            body["user_has_blocked"] = "false"
        return body

    def _xaa_post(self, who: Customer, post: Post, parent: Post | None) -> dict[str, Any]:
        root = post.id
        while parent is not None:
            root = parent.id
            parent = self.posts.get(parent.in_reply_to) if parent.in_reply_to else None
        payload: dict[str, Any] = {
            "id": post.id,
            "text": post.text,
            "author_id": who.id,
            "created_at": datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z"),
            "conversation_id": root,
            "edit_history_tweet_ids": [post.id],
            "entities": {
                "mentions": [{"username": self.screen_name, "id": self.account_id}] if post.mentions else []
            },
        }
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
                "includes": {"users": [{"id": who.id, "username": who.screen_name, "name": who.name}]},
            }
        }

    def customer_dm(self, who: Customer, text: str, envelope: str = "aaa") -> dict[str, Any]:
        """A customer sends the brand a DM; returns the webhook body."""
        event_id = self.next_id()
        self.received_dms.append({"id": event_id, "from": who.id, "text": text})
        self._dm_times[event_id] = self.clock()
        event = {
            "type": "message_create",
            "id": event_id,
            "created_timestamp": str(int(self.clock() * 1000)),
            "message_create": {
                "target": {"recipient_id": self.account_id},
                "sender_id": who.id,
                "message_data": {
                    "text": text,
                    "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                },
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
