"""Reading the brand's writes back: `GET /2/users/{id}/tweets` and `GET /2/dm_conversations/with/{id}/dm_events`,
newest first and paginated, with text as X gives it back (links as t.co, post text HTML-escaped).
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from sav_bridge.channels.x.text_parser import extract_urls_with_indices
from sav_bridge.sandbox.x.base import FakeXBase, Post


class Reads(FakeXBase):
    #: Seconds after a write before X shows it to readers (X's reads lag behind its writes).
    read_lag = 0.0

    def _shown(self, created_at: float) -> bool:
        return created_at + self.read_lag <= self.clock()

    def _user_posts(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("timeline")
        if not allowed:
            return self.rate_limited(headers)
        q = request.url.params
        fields, expansions = listed(q.get("post.fields")), listed(q.get("expansions"))
        start, end = epoch(q.get("start_time")), epoch(q.get("end_time"))
        posts = [
            p
            for p in sorted(self.posts.values(), key=lambda p: int(p.id), reverse=True)
            if p.author_id == match["user"]
            and self._shown(p.created_at)
            and (start is None or p.created_at >= start)
            and (end is None or p.created_at <= end)
            and (not q.get("since_id") or int(p.id) > int(q["since_id"]))
            and (not q.get("until_id") or int(p.id) < int(q["until_id"]))
            and not ("replies" in listed(q.get("exclude")) and p.in_reply_to)
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
            "text": html.escape(shortened(post.text), quote=False) + _media_link(post),
            "edit_history_post_ids": [post.id],
        }
        if "created_at" in fields:
            item["created_at"] = rfc3339(post.created_at)
        if "author_id" in expansions:
            item["author_id"] = post.author_id
        if "referenced_posts" in expansions and post.in_reply_to:
            item["referenced_posts"] = [{"type": "replied_to", "id": post.in_reply_to}]
        return item

    def _dm_events(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("dm_events")
        if not allowed:
            return self.rate_limited(headers)
        participant = match["participant"]
        q = request.url.params
        fields, expansions = listed(q.get("dm_event.fields")), listed(q.get("expansions"))
        sent = [
            (d["id"], self.account_id, d["text"])
            for d in self.dms
            if d["to"] == participant and self._shown(self._dm_times.get(d["id"], 0.0))
        ]
        got = [(d["id"], participant, d["text"]) for d in self.received_dms if d["from"] == participant]
        events = sorted(sent + got, key=lambda e: int(e[0]), reverse=True)
        if "MessageCreate" not in listed(q.get("event_types", "MessageCreate")):
            events = []
        page, token = _page(events, q.get("max_results", "100"), q.get("pagination_token"))
        conversation = "-".join(sorted([participant, self.account_id]))
        data = []
        for event_id, sender, text in page:
            item: dict[str, Any] = {"id": event_id, "event_type": "MessageCreate", "text": shortened(text)}
            if "created_at" in fields:
                item["created_at"] = rfc3339(self._dm_times.get(event_id, 0.0))
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


def listed(value: str | None) -> set[str]:
    """A comma-separated query parameter (`post.fields`, `expansions`, ...) as a set."""
    return set(value.split(",")) if value else set()


def epoch(value: str | None) -> float | None:
    """An RFC 3339 `start_time`/`end_time` parameter as epoch seconds; None when absent."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def rfc3339(seconds: float) -> str:
    """A time as X writes `created_at` (milliseconds, `Z`)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _page(items: list[Any], max_results: str, token: str | None) -> tuple[list[Any], str | None]:
    """One page of `items` and the token of the next (opaque to clients, 16+ characters as X's are)."""
    start = int(token, 16) if token else 0
    end = start + int(max_results)
    return items[start:end], (f"{end:016x}" if end < len(items) else None)


def shortened(text: str) -> str:
    """`text` with each link wrapped in t.co, as X shows it to readers."""
    for url in sorted(extract_urls_with_indices(text), key=lambda u: u["indices"][0], reverse=True):
        start, end = url["indices"]
        code = hashlib.sha256(url["url"].encode()).hexdigest()[:10]
        text = text[:start] + f"https://t.co/{code}" + text[end:]
    return text


def _media_link(post: Post) -> str:
    """X ends the text of a post with media with one t.co link to them (outside `display_text_range`)."""
    return (
        f" https://t.co/{hashlib.sha256(post.media_ids[0].encode()).hexdigest()[:10]}"
        if post.media_ids
        else ""
    )
