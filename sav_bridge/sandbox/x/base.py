"""The fake X's state and what every part of it shares: ids, the brand, problems, rate limits.

The fake is split by what X does (writes, reads, webhook bodies, ...): each part is a subclass of
`FakeXBase` in a module of its own, and `FakeX` (in `__init__`) puts them together and routes requests.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sav_bridge.sandbox.base import FakeVendor
from sav_bridge.sandbox.contracts import OpenApiContract

PROBLEM = "https://api.x.com/2/problems/"
WINDOW = 15 * 60
# per user per 15 minutes: vendor CONTRACTS §1.6 and x/docs/x-api_fundamentals_rate-limits.mdx
LIMITS = {"tweets": 100, "dm": 15, "timeline": 900, "dm_events": 15, "mentions": 300, "dm_events_all": 15}


@dataclass
class Post:
    id: str
    author_id: str
    text: str
    in_reply_to: str | None = None
    mentions: set[str] = field(default_factory=set)
    created_at: float = 0.0
    #: Uploaded media attached to it (X then ends its text with a t.co link to them).
    media_ids: list[str] = field(default_factory=list)
    #: Media a customer attached (the fake's `Served` records), shown by the read endpoints too.
    attached: list[Any] = field(default_factory=list)


@dataclass
class Customer:
    id: str
    screen_name: str
    name: str


class FakeXBase(FakeVendor):
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

    def rate_limited(self, headers: dict[str, str]) -> httpx.Response:
        return httpx.Response(
            429, json={"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, headers=headers
        )
