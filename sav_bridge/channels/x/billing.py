"""What X bills, counted: kinds of billed requests, their unit prices, a meter and the monthly budget.

X's 2026 pay-per-use pricing bills reads per resource returned and writes per request (the `x.prices`
defaults below come from `vendor/x/docs/changelog.mdx`, April 2026, and X's pricing page): owned
reads (the brand's own mentions and posts) $0.001 a resource, DM events $0.01 a resource, a post
$0.015, a post containing a URL $0.20, a summoned reply $0.01, a DM $0.015. Every billed call goes
through `Meter.record_read` or `record_write`, which add it to `store.usage` (per UTC day and kind, shared by replicas) and
to the metrics.

`x.budget` caps a month's billed requests and/or spend. Only reads made on the gateway's own
initiative (polling, backfill) ask `Meter.reads_allowed` first; writes, and the read-backs that
confirm a write, are never stopped by it. X bills a resource read several times in one UTC day once
("deduplication", a soft guarantee on X's side), and so does the meter (table `usage_seen`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sav_bridge.channels.x.facts import EXHAUSTED_FACT
from sav_bridge.channels.x.text_parser import extract_urls
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store

log = logging.getLogger(__name__)

MICROS = 1_000_000


class Kind(StrEnum):
    """A kind of billed request; the value is the `x.prices` key, the usage row and the metric label."""

    READ_MENTIONS = "read_mentions"  # GET /2/users/{id}/mentions (owned read)
    READ_POSTS = "read_posts"  # GET /2/users/{id}/tweets of the brand (owned read)
    READ_DM_EVENTS = "read_dm_events"  # GET /2/dm_events, /2/dm_conversations/with/{id}/dm_events
    WRITE_POST = "write_post"  # POST /2/tweets, not a reply
    WRITE_REPLY = "write_reply"  # POST /2/tweets answering a post that summoned the brand
    WRITE_POST_URL = "write_post_url"  # POST /2/tweets whose text holds a URL, reply or not
    WRITE_DM = "write_dm"  # POST /2/dm_conversations/with/{id}/messages

    @property
    def is_read(self) -> bool:
        return self.value.startswith("read_")


#: Unit prices in dollars: per resource returned (reads), per request (writes).
DEFAULT_PRICES: Mapping[Kind, float] = {
    Kind.READ_MENTIONS: 0.001,
    Kind.READ_POSTS: 0.001,
    Kind.READ_DM_EVENTS: 0.010,
    Kind.WRITE_POST: 0.015,
    Kind.WRITE_REPLY: 0.010,
    Kind.WRITE_POST_URL: 0.200,
    Kind.WRITE_DM: 0.015,
}


def post_kind(text: str, reply: bool) -> Kind:
    """How X bills a post of `text`: a URL as X's own extractor finds it (bare domains too) makes it the
    expensive kind, whether or not it answers a post."""
    if extract_urls(text):
        return Kind.WRITE_POST_URL
    return Kind.WRITE_REPLY if reply else Kind.WRITE_POST


@dataclass(frozen=True)
class Budget:
    """A month's cap (UTC calendar month); None means no cap of that sort."""

    monthly_spend_micros: int | None = None
    monthly_requests: int | None = None

    @classmethod
    def from_settings(cls, section: Mapping[str, Any]) -> Budget:
        spend = section.get("monthly_spend")
        requests = section.get("monthly_requests")
        return cls(
            round(float(spend) * MICROS) if spend is not None else None,
            int(requests) if requests is not None else None,
        )


@dataclass(frozen=True)
class MonthUsage:
    """This month's billed requests and spend, all kinds and replicas together."""

    month: str
    requests: int
    cost_micros: int


def prices_micros(configured: Mapping[str, float]) -> dict[Kind, int]:
    """`x.prices` over the defaults, in micro-dollars."""
    return {kind: round(float(configured.get(kind.value, DEFAULT_PRICES[kind])) * MICROS) for kind in Kind}


class Meter:
    """Counts what X bills, and says whether the month's budget still allows optional reads."""

    def __init__(self, store: Store, metrics: Metrics, prices: Mapping[str, float], budget: Budget) -> None:
        self.store = store
        self.metrics = metrics
        self.prices = prices_micros(prices)
        self.budget = budget
        #: Called when the month's cap is reached or cleared (`Health.check`: the alert shows at once).
        self.on_change: Callable[[], Awaitable[object]] | None = None

    async def record_write(self, kind: Kind) -> None:
        """One billed write that X accepted."""
        await self._add(kind, 1, self.prices[kind])

    async def record_read(self, kind: Kind, ids: Sequence[str]) -> None:
        """One billed read that returned the resources `ids`; those already read today are free."""
        fresh = await self.store.usage.first_today(kind.value, ids)
        await self._add(kind, fresh, self.prices[kind] * fresh)

    async def _add(self, kind: Kind, resources: int, cost: int) -> None:
        await self.store.usage.add(kind.value, 1, resources, cost)
        self.metrics.x_requests.labels(kind.value).inc()
        self.metrics.x_resources.labels(kind.value).inc(resources)
        self.metrics.x_spend_micros.labels(kind.value).inc(cost)
        await self.month()

    async def month(self) -> MonthUsage:
        """This month's totals from the store (so every replica counts), also set in the gauges."""
        rows = await self.store.usage.month()
        usage = MonthUsage(
            self.store.usage.today()[:7],
            sum(r["requests"] for r in rows.values()),
            sum(r["cost_micros"] for r in rows.values()),
        )
        self.metrics.x_month_spend_micros.set(usage.cost_micros)
        self.metrics.x_month_requests.set(usage.requests)
        if self.budget.monthly_spend_micros is not None:
            left = max(0, self.budget.monthly_spend_micros - usage.cost_micros)
            self.metrics.x_budget_remaining.labels("micros").set(left)
        if self.budget.monthly_requests is not None:
            left = max(0, self.budget.monthly_requests - usage.requests)
            self.metrics.x_budget_remaining.labels("requests").set(left)
        return usage

    def over(self, usage: MonthUsage) -> str | None:
        """Which cap `usage` reached, in words; None while under both."""
        spend, requests = self.budget.monthly_spend_micros, self.budget.monthly_requests
        if spend is not None and usage.cost_micros >= spend:
            return f"spend {usage.cost_micros / MICROS:.2f} of {spend / MICROS:.2f} a month"
        if requests is not None and usage.requests >= requests:
            return f"{usage.requests} of {requests} billed requests a month"
        return None

    async def reads_allowed(self) -> bool:
        """Whether polling and backfill may read now. At the cap: the gauge, one log line and the state
        fact, once a month; they clear when a new month (or a higher cap) leaves room again."""
        usage = await self.month()
        reached = self.over(usage)
        fact = await self.store.state.get(EXHAUSTED_FACT)
        if reached is None:
            self.metrics.x_budget_exhausted.set(0)
            if fact is not None:
                await self.store.state.delete(EXHAUSTED_FACT)
                log.info("X budget: room again this month (%s); polling resumes", usage.month)
                await self._changed()
            return True
        self.metrics.x_budget_exhausted.set(1)
        if not isinstance(fact, dict) or fact.get("month") != usage.month:
            await self.store.state.put(
                EXHAUSTED_FACT,
                {
                    "month": usage.month,
                    "at": self.store.usage.clock(),
                    "reached": reached,
                    "requests": usage.requests,
                    "cost_micros": usage.cost_micros,
                },
            )
            log.error(
                "X budget reached (%s): polling and backfill stop until next month or a higher x.budget; "
                "agent replies still post",
                reached,
            )
            await self._changed()
        return False

    async def _changed(self) -> None:
        if self.on_change is not None:
            await self.on_change()
