"""What a polling client reads, and what X bills for everything the fake answers.

- `GET /2/users/{id}/mentions`: posts mentioning the user, newest first, with `since_id`, `until_id`,
  `start_time`, `end_time`, `max_results` (5 to 100, default 10) and `pagination_token`; `meta` has
  `result_count`, `newest_id`, `oldest_id` and `next_token` as X documents; 300 requests per user per
  15 minutes.
- `GET /2/dm_events`: the brand's DM events of the last 30 days, newest first, with `max_results`
  (1 to 100, default 100), `pagination_token` and `event_types`; no `since_id` (X takes none); 15
  requests per 15 minutes. A customer's DM media: `attachments.media_keys` (`dm_event.fields`
  `attachments`) resolved in `includes.media` (expansion `attachments.media_keys`), on ton.twitter.com,
  and the t.co link X ends the text with, explained in `entities.urls` (field `entities`).
- `billing`: what X would bill for each successful answer, by kind (the gateway's `x.prices` keys):
  requests, resources returned, and resources billed once per UTC day as X deduplicates them.

Pagination tokens point at the oldest id of the page they follow, so new posts arriving between two
pages neither shift nor repeat what a client reads.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from sav_bridge.channels.x.text_parser import extract_urls
from sav_bridge.sandbox.base import Answer
from sav_bridge.sandbox.x.base import Customer, FakeXBase, Post
from sav_bridge.sandbox.x.envelopes import linked
from sav_bridge.sandbox.x.media import Media, Served
from sav_bridge.sandbox.x.reads import epoch, listed, rfc3339, shortened

DM_HISTORY = 30 * 86_400

#: (method, path) -> billed kind of a read; the resources are the answer's `data` items.
READS = (
    ("GET", re.compile(r"/2/users/[^/]+/mentions"), "read_mentions"),
    ("GET", re.compile(r"/2/users/[^/]+/tweets"), "read_posts"),
    ("GET", re.compile(r"/2/dm_events"), "read_dm_events"),
    ("GET", re.compile(r"/2/dm_conversations/with/[^/]+/dm_events"), "read_dm_events"),
    ("GET", re.compile(r"/2/users/me"), "read_user"),
)
#: What `GET /2/dm_events` takes; X refuses any other parameter (`since_id` among them) with a 400.
DM_EVENTS_PARAMS = frozenset(
    {"max_results", "pagination_token", "event_types", "dm_event.fields", "expansions", "user.fields",
     "post.fields", "media.fields"}
)  # fmt: skip
DM_SEND = re.compile(r"/2/dm_conversations/with/[^/]+/messages")


@dataclass
class Billing:
    """What X would bill, by kind."""

    requests: Counter[str] = field(default_factory=Counter)
    returned: Counter[str] = field(default_factory=Counter)
    #: Resources charged: a resource read again the same UTC day is not charged again.
    billed: Counter[str] = field(default_factory=Counter)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)

    def read(self, kind: str, ids: list[str], day: str) -> None:
        self.requests[kind] += 1
        self.returned[kind] += len(ids)
        for resource in ids:
            if (day, kind, resource) not in self._seen:
                self._seen.add((day, kind, resource))
                self.billed[kind] += 1

    def write(self, kind: str) -> None:
        self.requests[kind] += 1
        self.returned[kind] += 1
        self.billed[kind] += 1


class Timelines(FakeXBase):
    #: Customers' DM media by DM event id (`Envelopes.customer_dm` records them).
    dm_media: dict[str, Served]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.billing = Billing()
        self.people: dict[str, Customer] = {}

    def customer_post(self, who: Customer, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.people[who.id] = who
        body: dict[str, Any] = super().customer_post(who, *args, **kwargs)  # type: ignore[misc]
        return body

    def customer_dm(self, who: Customer, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.people[who.id] = who
        body: dict[str, Any] = super().customer_dm(who, *args, **kwargs)  # type: ignore[misc]
        return body

    # -- billing --------------------------------------------------------------------------------------
    def _dispatch(self, request: httpx.Request) -> Answer:
        answer = super()._dispatch(request)
        if isinstance(answer, httpx.Response) and answer.is_success:
            self._bill(request, answer)
        return answer

    def _bill(self, request: httpx.Request, response: httpx.Response) -> None:
        path, day = request.url.path, datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")
        for method, pattern, kind in READS:
            if request.method == method and pattern.fullmatch(path):
                data = response.json().get("data")
                items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
                self.billing.read(kind, [str(i.get("id")) for i in items if isinstance(i, dict)], day)
                return
        if request.method == "POST" and path == "/2/tweets":
            body = json.loads(request.content)
            if extract_urls(str(body.get("text", ""))):
                self.billing.write("write_post_url")
            else:
                self.billing.write("write_reply" if body.get("reply") else "write_post")
        elif request.method == "POST" and DM_SEND.fullmatch(path):
            self.billing.write("write_dm")

    # -- mentions -------------------------------------------------------------------------------------
    def _mentions(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("mentions")
        if not allowed:
            return self.rate_limited(headers)
        q = request.url.params
        size = _size(q.get("max_results"), 10, 5)
        if size is None:
            return self.problem(400, "invalid-request", "max_results must be between 5 and 100", headers)
        start, end = epoch(q.get("start_time")), epoch(q.get("end_time"))
        before = _token(q.get("pagination_token")) or _int(q.get("until_id"))
        if q.get("pagination_token") and before is None:
            return self.problem(400, "invalid-request", "pagination_token is not valid", headers)
        posts = [
            p
            for p in sorted(self.posts.values(), key=lambda p: int(p.id), reverse=True)
            if match["user"] in p.mentions
            and (not q.get("since_id") or int(p.id) > int(q["since_id"]))
            and (before is None or int(p.id) < before)
            and (start is None or p.created_at >= start)
            and (end is None or p.created_at <= end)
        ]
        page = posts[:size]
        fields, expansions = listed(q.get("post.fields")), listed(q.get("expansions"))
        data = [self._mention_json(p, fields, expansions) for p in page]
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta |= {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        if len(posts) > size:
            meta["next_token"] = _next(page[-1].id)
        answer: dict[str, Any] = {"data": data, "meta": meta} if data else {"meta": meta}
        users = [p.author_id for p in page] if "author_id" in expansions else []
        if "in_reply_to_user_id" in expansions:
            users += [self.posts[p.in_reply_to].author_id for p in page if p.in_reply_to in self.posts]
        if data and users:
            answer["includes"] = {"users": self._users(users)}
        media = [m for p in page for m in p.attached] if "attachments.media_keys" in expansions else []
        if data and media:
            answer.setdefault("includes", {})["media"] = [Media.v2_include(m) for m in media]
        return httpx.Response(200, json=answer, headers=headers)

    def _mention_json(self, post: Post, fields: set[str], expansions: set[str]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": post.id,
            "text": html.escape(shortened(post.text), quote=False),
            "edit_history_post_ids": [post.id],
        }
        parent = self.posts.get(post.in_reply_to) if post.in_reply_to else None
        if "created_at" in fields:
            item["created_at"] = rfc3339(post.created_at)
        if "conversation_id" in fields:
            item["conversation_id"] = self._root(post)
        if "entities" in fields:
            item["entities"] = {"mentions": self._mention_entities(post.text)}
        if "author_id" in expansions:
            item["author_id"] = post.author_id
        if "in_reply_to_user_id" in expansions and parent is not None:
            item["in_reply_to_user_id"] = parent.author_id
        if "referenced_posts" in expansions and post.in_reply_to:
            item["referenced_posts"] = [{"type": "replied_to", "id": post.in_reply_to}]
        if "attachments" in fields and post.attached:
            item["attachments"] = {"media_keys": [m.key for m in post.attached]}
        return item

    def _root(self, post: Post) -> str:
        while post.in_reply_to and post.in_reply_to in self.posts:
            post = self.posts[post.in_reply_to]
        return post.in_reply_to or post.id

    def _mention_entities(self, text: str) -> list[dict[str, Any]]:
        handle = f"@{self.screen_name}".lower()
        found, at = [], text.lower().find(handle)
        while at >= 0:
            found.append(
                {"start": at, "end": at + len(handle), "username": self.screen_name, "id": self.account_id}
            )
            at = text.lower().find(handle, at + 1)
        return found

    def _users(self, ids: Sequence[str | None]) -> list[dict[str, str]]:
        users: dict[str, dict[str, str]] = {}
        for user_id in ids:
            if user_id is None or user_id in users:
                continue
            if user_id == self.account_id:
                users[user_id] = {"id": user_id, "name": self.screen_name, "username": self.screen_name}
            elif user_id in self.people:
                who = self.people[user_id]
                users[user_id] = {"id": user_id, "name": who.name, "username": who.screen_name}
        return list(users.values())

    # -- DM events ------------------------------------------------------------------------------------
    def _all_dm_events(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("dm_events_all")
        if not allowed:
            return self.rate_limited(headers)
        q = request.url.params
        unknown = sorted(set(q) - DM_EVENTS_PARAMS)
        if unknown:
            return self.problem(400, "invalid-request", f"The query parameter [{unknown[0]}] is not one of "
                                f"[{','.join(sorted(DM_EVENTS_PARAMS))}]", headers)  # fmt: skip
        size = _size(q.get("max_results"), 100, 1)
        if size is None:
            return self.problem(400, "invalid-request", "max_results must be between 1 and 100", headers)
        before = _token(q.get("pagination_token"))
        if q.get("pagination_token") and before is None:
            return self.problem(400, "invalid-request", "pagination_token is not valid", headers)
        oldest = self.clock() - DM_HISTORY
        sent = [(d["id"], self.account_id, d["to"], d["text"]) for d in self.dms]
        got = [(d["id"], d["from"], self.account_id, d["text"]) for d in self.received_dms]
        events = [
            e
            for e in sorted(sent + got, key=lambda e: int(e[0]), reverse=True)
            if (before is None or int(e[0]) < before) and self._dm_times.get(e[0], 0.0) >= oldest
        ]
        if "MessageCreate" not in listed(q.get("event_types", "MessageCreate")):
            events = []
        page = events[:size]
        fields, expansions = listed(q.get("dm_event.fields")), listed(q.get("expansions"))
        data = [self._dm_json(event, fields, expansions) for event in page]
        meta: dict[str, Any] = {"result_count": len(data)}
        if len(events) > size:
            meta["next_token"] = _next(page[-1][0])
        answer: dict[str, Any] = {"data": data, "meta": meta} if data else {"meta": meta}
        if data and "sender_id" in expansions:
            answer["includes"] = {"users": self._users([e[1] for e in page])}
        media = [self.dm_media[e[0]] for e in page if e[0] in self.dm_media]
        if data and media and "attachments.media_keys" in expansions:
            answer.setdefault("includes", {})["media"] = [Media.v2_include(m) for m in media]
        return httpx.Response(200, json=answer, headers=headers)

    def _dm_json(
        self, event: tuple[str, str, str, str], fields: set[str], expansions: set[str]
    ) -> dict[str, Any]:
        event_id, sender, recipient, text = event
        text, urls = linked(text)
        served = self.dm_media.get(event_id)
        if served is not None:  # X ends the text with a t.co link to the DM's media
            start = len(text) + 1 if text else 0
            text = f"{text} {served.tco}".strip()
            urls.append({"start": start, "end": len(text), "url": served.tco,
                         "expanded_url": f"https://x.com/messages/media/{event_id}",
                         "display_url": "pic.x.com/" + served.tco.rsplit("/", 1)[1]})  # fmt: skip
        item: dict[str, Any] = {"id": event_id, "event_type": "MessageCreate", "text": text}
        if "created_at" in fields:
            item["created_at"] = rfc3339(self._dm_times.get(event_id, 0.0))
        if "dm_conversation_id" in fields:
            item["dm_conversation_id"] = "-".join(sorted([sender, recipient]))
        if "entities" in fields and urls:
            item["entities"] = {"urls": [{k: v for k, v in u.items() if k != "indices"} for u in urls]}
        if "attachments" in fields and served is not None:
            item["attachments"] = {"media_keys": [served.key]}
        if "sender_id" in expansions:
            item["sender_id"] = sender
        return item


def _size(value: str | None, default: int, low: int) -> int | None:
    size = _int(value) if value is not None else default
    return size if size is not None and low <= size <= 100 else None


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _next(oldest_id: str) -> str:
    """An opaque-looking token (X's are 16+ characters) that resumes below `oldest_id`."""
    return f"{int(oldest_id):020x}"


def _token(value: str | None) -> int | None:
    try:
        return int(value, 16) if value else None
    except ValueError:
        return None
