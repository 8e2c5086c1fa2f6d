"""What the brand writes: reply posts and DMs, with X's 2026 rules, limits and refusals.

- `POST /2/tweets`: 280 weighted characters, duplicate-content refusal (403), and a reply must answer a
  post that mentions (summons) the brand, else 403;
- `POST /2/dm_conversations/with/{id}/messages`;
- media attached by id (`media.media_ids`, a DM's `attachments[].media_id`), checked by `Media`;
- per-15-minute rate limits with `x-rate-limit-*` headers and 429s.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from sav_bridge.channels.x.text import fits
from sav_bridge.sandbox.x.base import Post
from sav_bridge.sandbox.x.media import Media


class Writes(Media):
    def _create_post(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("tweets")
        if not allowed:
            return self.rate_limited(headers)
        text = body.get("text", "")
        if not fits(text):
            return self.problem(400, "invalid-request", "Your Post text is too long.", headers)
        if any(p.text == text for p in self.brand_posts):
            return self.problem(403, "not-authorized-for-resource", "You are not allowed to create a Post with duplicate content.", headers)  # fmt: skip
        media_ids = list((body.get("media") or {}).get("media_ids") or [])
        problem = self.media_problem(media_ids, dm=False)
        if problem:
            return self.problem(400, "invalid-request", problem, headers)
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
        post = Post(
            self.next_id(), self.account_id, text, target_id, created_at=self.clock(), media_ids=media_ids
        )
        self.posts[post.id] = post
        self.attach(post.id, media_ids)
        return httpx.Response(
            201,
            json={"data": {"id": post.id, "text": text, "edit_history_post_ids": [post.id]}},
            headers=headers,
        )

    def _send_dm(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        headers, allowed = self._rate("dm")
        if not allowed:
            return self.rate_limited(headers)
        participant = match["participant"]
        if not re.fullmatch(r"[0-9]{1,19}", participant):
            return self.problem(400, "invalid-request", "participant_id must be numeric", headers)
        media_ids = [a.get("media_id") for a in body.get("attachments") or []]
        problem = self.media_problem(media_ids, dm=True)
        if problem:
            return self.problem(400, "invalid-request", problem, headers)
        event_id = self.next_id()
        self.attach(event_id, media_ids)
        self.dms.append({"id": event_id, "to": participant, "text": body.get("text", "")})
        self._dm_times[event_id] = self.clock()
        conversation = "-".join(sorted([participant, self.account_id]))
        return httpx.Response(
            201, json={"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}}, headers=headers
        )
