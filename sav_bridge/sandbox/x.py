"""A fake X API v2 for the brand account, faithful to what our gateway relies on.

- `POST /2/tweets` and `POST /2/dm_conversations/with/{id}/messages`, bodies checked against X's spec;
- `GET /2/users/{id}/tweets` and `GET /2/dm_conversations/with/{id}/dm_events` to read them back,
  newest first and paginated, with text as X gives it back (links as t.co, post text HTML-escaped);
- the 2026 rule that a reply must answer a post that mentions (summons) the brand, else 403;
- 280 weighted characters, duplicate-content refusal, per-15-minute rate limits with
  `x-rate-limit-*` headers and 429s;
- builders of webhook bodies in both envelopes (Account Activity and X Activity API), so tests and
  the demo post exactly what X would.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from twitter_text import extract_urls_with_indices

from sav_bridge.channels.x.text import fits
from sav_bridge.sandbox.base import FakeVendor
from sav_bridge.sandbox.contracts import OpenApiContract

PROBLEM = "https://api.x.com/2/problems/"
WINDOW = 15 * 60
# per user per 15 minutes: vendor CONTRACTS §1.6 and x/docs/x-api_fundamentals_rate-limits.mdx
LIMITS = {"tweets": 100, "dm": 15, "timeline": 900, "dm_events": 15}


@dataclass
class Post:
    id: str
    author_id: str
    text: str
    in_reply_to: str | None = None
    mentions: set[str] = field(default_factory=set)
    created_at: float = 0.0


@dataclass
class Customer:
    id: str
    screen_name: str
    name: str


class FakeX(FakeVendor):
    name = "x"

    def __init__(
        self,
        account_id: str,
        screen_name: str,
        access_token: str,
        contracts: list[OpenApiContract] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(contracts)
        self.account_id = account_id
        self.screen_name = screen_name.lstrip("@")
        self.access_token = access_token
        self.clock = clock
        self.posts: dict[str, Post] = {}
        self.dms: list[dict[str, str]] = []
        self.received_dms: list[dict[str, str]] = []
        self._dm_times: dict[str, float] = {}
        self._ids = itertools.count(1_860_000_000_000_000_001)
        self._usage: dict[str, tuple[float, int]] = {}
        self.route("POST", r"/2/tweets", self._create_post)
        self.route("POST", r"/2/dm_conversations/with/(?P<participant>[^/]+)/messages", self._send_dm)
        self.route("GET", r"/2/users/(?P<user>[^/]+)/tweets", self._user_posts)
        self.route("GET", r"/2/dm_conversations/with/(?P<participant>[^/]+)/dm_events", self._dm_events)
        self.route("GET", r"/2/users/me", self._users_me)

    def next_id(self) -> str:
        return str(next(self._ids))

    def authorised(self, request: httpx.Request) -> bool:
        return bool(request.headers.get("authorization") == f"Bearer {self.access_token}")

    def _users_me(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        """The token's owner: the brand account (what `sav-bridge check --online` asks)."""
        user = {"id": self.account_id, "name": self.screen_name, "username": self.screen_name}
        return httpx.Response(200, json={"data": user})

    @property
    def brand_posts(self) -> list[Post]:
        return [p for p in self.posts.values() if p.author_id == self.account_id]

    def problem(
        self, status: int, kind: str, detail: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = {
            "type": PROBLEM + kind,
            "title": kind.replace("-", " ").title(),
            "detail": detail,
            "status": status,
        }
        return httpx.Response(
            status, json=body, headers={"content-type": "application/problem+json", **(headers or {})}
        )

    def _rate(self, bucket: str) -> tuple[dict[str, str], bool]:
        now = self.clock()
        start, used = self._usage.get(bucket, (now, 0))
        if now - start >= WINDOW:
            start, used = now, 0
        allowed = used < LIMITS[bucket]
        used += 1 if allowed else 0
        self._usage[bucket] = (start, used)
        headers = {
            "x-rate-limit-limit": str(LIMITS[bucket]),
            "x-rate-limit-remaining": str(LIMITS[bucket] - used),
            "x-rate-limit-reset": str(int(start + WINDOW)),
        }
        return headers, allowed

    def _create_post(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("tweets")
        if not allowed:
            return httpx.Response(
                429, json={"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, headers=headers
            )
        text = body.get("text", "")
        if not fits(text):
            return self.problem(400, "invalid-request", "Your Post text is too long.", headers)
        if any(p.text == text for p in self.brand_posts):
            return self.problem(403, "not-authorized-for-resource", "You are not allowed to create a Post with duplicate content.", headers)  # fmt: skip
        target_id = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if target_id is not None:
            target = self.posts.get(target_id)
            if target is None:
                return self.problem(400, "invalid-request", f"Post {target_id} does not exist.", headers)
            summoned = target.author_id == self.account_id or self.account_id in target.mentions
            if not summoned:
                return self.problem(
                    403, "not-authorized-for-resource",
                    "Reply to this conversation is not allowed because you have not been mentioned or otherwise "
                    "engaged by the author of the post you are replying to.", headers,
                )  # fmt: skip
        post = Post(self.next_id(), self.account_id, text, target_id, created_at=self.clock())
        self.posts[post.id] = post
        return httpx.Response(
            201,
            json={"data": {"id": post.id, "text": text, "edit_history_post_ids": [post.id]}},
            headers=headers,
        )

    def _send_dm(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("dm")
        if not allowed:
            return httpx.Response(
                429, json={"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, headers=headers
            )
        participant = match["participant"]
        if not re.fullmatch(r"[0-9]{1,19}", participant):
            return self.problem(400, "invalid-request", "participant_id must be numeric", headers)
        event_id = self.next_id()
        self.dms.append({"id": event_id, "to": participant, "text": body.get("text", "")})
        self._dm_times[event_id] = self.clock()
        conversation = "-".join(sorted([participant, self.account_id]))
        return httpx.Response(
            201, json={"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}}, headers=headers
        )

    # -- reading back ----------------------------------------------------------------------------
    def _user_posts(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("timeline")
        if not allowed:
            return httpx.Response(
                429, json={"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, headers=headers
            )
        q = request.url.params
        fields, expansions = _listed(q.get("post.fields")), _listed(q.get("expansions"))
        start, end = _epoch(q.get("start_time")), _epoch(q.get("end_time"))
        posts = [
            p
            for p in sorted(self.posts.values(), key=lambda p: int(p.id), reverse=True)
            if p.author_id == match["user"]
            and (start is None or p.created_at >= start)
            and (end is None or p.created_at <= end)
            and (not q.get("since_id") or int(p.id) > int(q["since_id"]))
            and (not q.get("until_id") or int(p.id) < int(q["until_id"]))
            and not ("replies" in _listed(q.get("exclude")) and p.in_reply_to)
        ]
        page, token = _page(posts, q.get("max_results", "10"), q.get("pagination_token"))
        data = [self._post_json(p, fields, expansions) for p in page]
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta |= {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        if token:
            meta["next_token"] = token
        answer: dict[str, Any] = {"data": data, "meta": meta} if data else {"meta": meta}
        parents = [self.posts[p.in_reply_to] for p in page if p.in_reply_to in self.posts]
        if data and parents and "referenced_posts" in expansions:
            answer["includes"] = {"posts": [self._post_json(p, fields, set()) for p in parents]}
        return httpx.Response(200, json=answer, headers=headers)

    def _post_json(self, post: Post, fields: set[str], expansions: set[str]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": post.id,
            "text": html.escape(_shortened(post.text), quote=False),
            "edit_history_post_ids": [post.id],
        }
        if "created_at" in fields:
            item["created_at"] = _rfc3339(post.created_at)
        if "author_id" in expansions:
            item["author_id"] = post.author_id
        if "referenced_posts" in expansions and post.in_reply_to:
            item["referenced_posts"] = [{"type": "replied_to", "id": post.in_reply_to}]
        return item

    def _dm_events(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("dm_events")
        if not allowed:
            return httpx.Response(
                429, json={"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, headers=headers
            )
        participant = match["participant"]
        q = request.url.params
        fields, expansions = _listed(q.get("dm_event.fields")), _listed(q.get("expansions"))
        sent = [(d["id"], self.account_id, d["text"]) for d in self.dms if d["to"] == participant]
        got = [(d["id"], participant, d["text"]) for d in self.received_dms if d["from"] == participant]
        events = sorted(sent + got, key=lambda e: int(e[0]), reverse=True)
        if "MessageCreate" not in _listed(q.get("event_types", "MessageCreate")):
            events = []
        page, token = _page(events, q.get("max_results", "100"), q.get("pagination_token"))
        conversation = "-".join(sorted([participant, self.account_id]))
        data = []
        for event_id, sender, text in page:
            item: dict[str, Any] = {"id": event_id, "event_type": "MessageCreate", "text": _shortened(text)}
            if "created_at" in fields:
                item["created_at"] = _rfc3339(self._dm_times.get(event_id, 0.0))
            if "dm_conversation_id" in fields:
                item["dm_conversation_id"] = conversation
            if "sender_id" in expansions:
                item["sender_id"] = sender
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(data)}
        if token:
            meta["next_token"] = token
        return httpx.Response(
            200, json={"data": data, "meta": meta} if data else {"meta": meta}, headers=headers
        )

    # -- what customers do: webhook bodies, in either envelope ----------------------------------
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


def _listed(value: str | None) -> set[str]:
    return set(value.split(",")) if value else set()


def _epoch(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _page(items: list[Any], max_results: str, token: str | None) -> tuple[list[Any], str | None]:
    """One page of `items` and the token of the next (opaque to clients, 16+ characters as X's are)."""
    start = int(token, 16) if token else 0
    end = start + int(max_results)
    return items[start:end], (f"{end:016x}" if end < len(items) else None)


def _shortened(text: str) -> str:
    """`text` with each link wrapped in t.co, as X shows it to readers."""
    for url in sorted(extract_urls_with_indices(text), key=lambda u: u["indices"][0], reverse=True):
        start, end = url["indices"]
        code = hashlib.sha256(url["url"].encode()).hexdigest()[:10]
        text = text[:start] + f"https://t.co/{code}" + text[end:]
    return text
