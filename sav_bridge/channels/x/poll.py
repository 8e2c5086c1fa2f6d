"""Reading X instead of (or besides) its webhook: polling, and backfill after a webhook outage.

- `x.mode: polling`: every `x.poll_interval_seconds`, read the brand's mentions
  (`GET /2/users/{id}/mentions` with `since_id`) and DM events (`GET /2/dm_events`, which takes no
  `since_id`: read newest first until the last event already seen).
- `x.mode: webhook`: when this replica starts, and whenever no webhook body came for
  `x.gap_minutes`, read once what X may not have delivered: mentions since the newest post id the
  webhook brought, DMs back to the newest DM id or to the time of the last body.

Either way nothing older than `x.backfill_hours` is taken, every item goes through the webhook's own
storage (`accept_x_body`: same event ids, so a message seen both ways makes one ticket), and reads stop
when `x.budget` is reached (`billing`). The cursors (`x.poll.mentions`, `x.poll.dm_events`) live in
`store.state` and are saved after every page, so a restart reads nothing twice and a walk interrupted
by the budget or a page limit resumes where it stopped (`next_token`). One replica polls at a time:
the lease `x.poll.lease` in `store.state`, renewed at every round and free again after three rounds
without renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sav_bridge.channels.x.billing import Kind, Meter
from sav_bridge.channels.x.client import XClient
from sav_bridge.channels.x.events import CHANNEL, ParsedBody
from sav_bridge.channels.x.polled import created_at, items, newest_id, parse_dm_events, parse_mentions
from sav_bridge.config import XSettings
from sav_bridge.errors import DeliveryError, RetryableError
from sav_bridge.flows.inbound import LAST_EVENT_FACT, accept_x_body
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store

log = logging.getLogger(__name__)

LEASE = "x.poll.lease"
BACKFILL_FACT = "x.backfill.last_at"
#: How far before the last webhook body a backfill reads DMs: X stamps an event before delivering it.
DELIVERY_MARGIN = 300.0


@dataclass(frozen=True)
class Timeline:
    """One of X's lists the gateway reads, as data."""

    name: str
    kind: Kind
    fact: str
    path: str
    params: Mapping[str, Any]
    takes_since_id: bool
    parse: Callable[[Mapping[str, Any], str], ParsedBody]
    #: Pages one round reads at most; the rest waits for the next round (rate limits).
    max_pages: int


def timelines(account_id: str) -> tuple[Timeline, Timeline]:
    mentions = Timeline(
        "mentions",
        Kind.READ_MENTIONS,
        "x.poll.mentions",
        f"/2/users/{account_id}/mentions",
        {
            "max_results": 100,
            "post.fields": "created_at,conversation_id,entities,attachments",
            "expansions": "author_id,referenced_posts,in_reply_to_user_id,attachments.media_keys",
            "user.fields": "name,username",
            "media.fields": "media_key,type,url,preview_image_url,variants,duration_ms,alt_text",
        },
        True,
        parse_mentions,
        10,
    )
    # Billed per event returned and no since_id: small pages (X bills an event once a day however often
    # it is read), 15 requests per 15 minutes.
    dm_events = Timeline(
        "dm_events",
        Kind.READ_DM_EVENTS,
        "x.poll.dm_events",
        "/2/dm_events",
        {
            "max_results": 20,
            "event_types": "MessageCreate",
            "dm_event.fields": "created_at,dm_conversation_id,event_type,id,text",
            "expansions": "sender_id",
            "user.fields": "name,username",
        },
        False,
        parse_dm_events,
        3,
    )
    return mentions, dm_events


class Poller:
    """Polls X (polling mode) or reads a webhook gap (webhook mode); `tick()` is one round."""

    def __init__(
        self,
        settings: XSettings,
        x: XClient,
        store: Store,
        metrics: Metrics,
        meter: Meter,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.x = x
        self.store = store
        self.metrics = metrics
        self.meter = meter
        self.clock = clock
        self.holder = uuid.uuid4().hex
        self.timelines = timelines(settings.account_id)
        self._started = False
        self._resume_at: dict[str, float] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds every `poll_interval_seconds` until `stop` is set; a failed round is logged, not fatal."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("X polling round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.poll_interval_seconds)

    async def release(self) -> None:
        """Let another replica (or this one restarted) poll at once instead of after the lease.

        Best effort, at shutdown: with the database already gone the lease simply runs out."""
        try:
            await self.store.state.release_lease(LEASE, self.holder)
        except Exception as exc:  # any driver's error: nothing to do about it while stopping
            log.info("X polling lease not released (%s); it runs out by itself", type(exc).__name__)

    async def tick(self) -> int:
        """One round, if this replica holds the lease; returns the messages accepted."""
        lease = 3 * self.settings.poll_interval_seconds
        if not await self.store.state.take_lease(LEASE, self.holder, lease):
            return 0
        if self.settings.mode == "polling":
            return await self._read("poll", self.clock() - self.settings.backfill_hours * 3600, {})
        first, self._started = not self._started, True
        return await self._backfill(first)

    async def _backfill(self, starting: bool) -> int:
        """Webhook mode: read the gap once at start-up, or after `gap_minutes` without a webhook body."""
        last = await self.store.state.get(LAST_EVENT_FACT)
        if not isinstance(last, dict) or not isinstance(last.get("at"), int | float):
            return 0  # the webhook never delivered: nothing to catch up from
        now, gap = self.clock(), self.settings.gap_minutes * 60
        previous = await self.store.state.get(BACKFILL_FACT)
        quiet = now - last["at"] >= gap
        rested = not isinstance(previous, int | float) or now - previous >= gap
        if not (starting or (quiet and rested)):
            return 0
        floor = max(now - self.settings.backfill_hours * 3600, last["at"] - DELIVERY_MARGIN)
        floors = {"mentions": last.get("post_id"), "dm_events": last.get("dm_id")}
        found = await self._read("backfill", floor, floors)
        await self.store.state.put(BACKFILL_FACT, now)
        if found:
            log.warning(
                "X: %d message(s) the webhook did not deliver were read back (since %s UTC); "
                "check the webhook with `sav-bridge x status`",
                found,
                datetime.fromtimestamp(last["at"], UTC).strftime("%Y-%m-%d %H:%M"),
            )
        return found

    async def _read(self, mode: str, floor_time: float, floor_ids: Mapping[str, Any]) -> int:
        found = 0
        for timeline in self.timelines:
            if self._resume_at.get(timeline.name, 0.0) > self.clock():
                continue
            try:
                found += await self._walk(timeline, mode, floor_time, floor_ids.get(timeline.name))
            except DeliveryError as exc:
                self.metrics.x_poll_failures.labels(timeline.name).inc()
                if isinstance(exc, RetryableError) and exc.retry_after:
                    self._resume_at[timeline.name] = self.clock() + exc.retry_after
                log.warning("X %s not read this round: %s", timeline.name, exc)
        return found

    async def _walk(self, t: Timeline, mode: str, floor_time: float, floor_id: str | None) -> int:
        """Read `t` newest first down to what was already seen (or `floor_time`), page by page."""
        cursor = await self.store.state.get(t.fact)
        cursor = cursor if isinstance(cursor, dict) else {}
        last_id = newest_id([cursor.get("last_id"), floor_id])
        newest, token = cursor.get("newest_id"), cursor.get("next_token")
        found = 0
        for _ in range(t.max_pages):
            if not await self.meter.reads_allowed():
                break
            params = dict(t.params)
            if t.takes_since_id and last_id:
                params["since_id"] = last_id
            elif t.takes_since_id:
                params["start_time"] = _rfc3339(floor_time)
            if token:
                params["pagination_token"] = token
            page = await self.x.get_json(t.path, params)
            raw = [item for item in items(page) if isinstance(item, dict)]
            await self.meter.record_read(t.kind, [str(item.get("id")) for item in raw])
            newest = newest_id([newest, *(item.get("id") for item in raw)])
            fresh = [item for item in raw if _after(item, last_id, floor_time)]
            found += await self._accept(t, mode, {**page, "data": fresh})
            token = _next_token(page)
            if token is None or len(fresh) < len(raw):
                await self.store.state.put(t.fact, {"last_id": newest_id([last_id, newest])})
                break
            await self.store.state.put(t.fact, {"last_id": last_id, "newest_id": newest, "next_token": token})
        return found

    async def _accept(self, t: Timeline, mode: str, page: Mapping[str, Any]) -> int:
        parsed = t.parse(page, self.settings.account_id)
        if parsed.problems:
            body = json.dumps(page, sort_keys=True).encode()
            await self.store.quarantine(CHANNEL, body, "; ".join(parsed.problems)[:2000])
        result = await accept_x_body(self.store, self.metrics, parsed, webhook=False)
        self.metrics.x_polled.labels(t.name, mode).inc(result.accepted)
        return result.accepted


def _after(item: Mapping[str, Any], last_id: str | None, floor_time: float) -> bool:
    """Whether an item is newer than what was read already and than the oldest time to take."""
    item_id = item.get("id")
    if last_id and (not isinstance(item_id, str) or not item_id.isdigit() or int(item_id) <= int(last_id)):
        return False
    when = created_at(item)
    return when is None or when >= floor_time


def _next_token(page: Mapping[str, Any]) -> str | None:
    meta = page.get("meta")
    token = meta.get("next_token") if isinstance(meta, dict) else None
    return token if isinstance(token, str) and token else None


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
