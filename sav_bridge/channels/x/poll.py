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
the lease `x.poll.lease` in `store.state`, renewed before every page (a round may outlast the lease)
and free again after three intervals without renewal; a replica that finds it taken stops its round.
A cursor never moves back: a replica that lost the lease in the middle of a page does not undo what
the new holder saved.
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

from sav_bridge.channels.x import fields as f
from sav_bridge.channels.x.billing import Kind, Meter
from sav_bridge.channels.x.client import XClient, next_token, rfc3339
from sav_bridge.channels.x.events import CHANNEL, ParsedBody
from sav_bridge.channels.x.facts import (
    BACKFILL_FACT,
    DM_EVENTS_CURSOR,
    LAST_EVENT_FACT,
    MENTIONS_CURSOR,
    POLL_LEASE,
)
from sav_bridge.channels.x.polled import created_at, items, newest_id, parse_dm_events, parse_mentions
from sav_bridge.config import XSettings
from sav_bridge.errors import DeliveryError, RetryableError
from sav_bridge.flows.inbound import accept_x_body
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store

log = logging.getLogger(__name__)

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


def polled_source(timeline: str) -> str:
    """The quarantine source of a page read from `timeline` ("x:mentions"): `sav-bridge quarantine
    replay` reads it again with that timeline's parser, not the webhook's."""
    return f"{CHANNEL}:{timeline}"


def timelines(account_id: str) -> tuple[Timeline, Timeline]:
    mentions = Timeline(
        "mentions",
        Kind.READ_MENTIONS,
        MENTIONS_CURSOR,
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
        DM_EVENTS_CURSOR,
        "/2/dm_events",
        {
            "max_results": 20,
            "event_types": "MessageCreate",
            "dm_event.fields": "attachments,created_at,dm_conversation_id,entities,event_type,id,text",
            "expansions": "sender_id,attachments.media_keys",
            "user.fields": "name,username",
            "media.fields": "media_key,type,url,preview_image_url,variants,duration_ms",
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
            await self.store.state.release_lease(POLL_LEASE, self.holder)
        except Exception as exc:  # any driver's error: nothing to do about it while stopping
            log.info("X polling lease not released (%s); it runs out by itself", type(exc).__name__)

    async def tick(self) -> int:
        """One round, if this replica holds the lease; returns the messages accepted."""
        if not await self._holding():
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

    async def _holding(self) -> bool:
        """Take or renew the lease; False when another replica holds it."""
        lease = 3 * self.settings.poll_interval_seconds
        return await self.store.state.take_lease(POLL_LEASE, self.holder, lease)

    async def _read(self, mode: str, floor_time: float, floor_ids: Mapping[str, Any]) -> int:
        found = 0
        for timeline in self.timelines:
            if self._resume_at.get(timeline.name, 0.0) > self.clock():
                continue
            try:
                walked, holding = await self._walk(timeline, mode, floor_time, floor_ids.get(timeline.name))
            except DeliveryError as exc:
                self.metrics.x_poll_failures.labels(timeline.name).inc()
                if isinstance(exc, RetryableError) and exc.retry_after:
                    self._resume_at[timeline.name] = self.clock() + exc.retry_after
                log.warning("X %s not read this round: %s", timeline.name, exc)
                continue
            found += walked
            if not holding:
                log.info("X polling: another replica holds the lease now; this round stops")
                break
        return found

    async def _walk(
        self, t: Timeline, mode: str, floor_time: float, floor_id: str | None
    ) -> tuple[int, bool]:
        """Read `t` newest first down to what was already seen (or `floor_time`), page by page, while
        this replica holds the lease. Returns the messages accepted and whether the lease is still held."""
        cursor = await self.store.state.get(t.fact)
        cursor = cursor if isinstance(cursor, dict) else {}
        last_id = newest_id([cursor.get("last_id"), floor_id])
        newest, token = cursor.get("newest_id"), cursor.get("next_token")
        found = 0
        for _ in range(t.max_pages):
            if not await self._holding():
                return found, False
            if not await self.meter.reads_allowed():
                break
            params = dict(t.params)
            if t.takes_since_id and last_id:
                params["since_id"] = last_id
            elif t.takes_since_id:
                params["start_time"] = rfc3339(floor_time)
            if token:
                params["pagination_token"] = token
            page = await self.x.get_json(t.path, params)
            raw = [item for item in items(page) if isinstance(item, dict)]
            await self.meter.record_read(t.kind, [str(item.get("id")) for item in raw])
            newest = newest_id([newest, *(item.get("id") for item in raw)])
            fresh, reached = _fresh(raw, last_id, floor_time)
            found += await self._accept(t, mode, {**page, "data": fresh})
            token = next_token(page)
            if token is None or reached:
                await self._save(t, {"last_id": newest_id([last_id, newest])})
                break
            if not await self._save(t, {"last_id": last_id, "newest_id": newest, "next_token": token}):
                break  # another replica read further meanwhile: this walk is behind it
        return found, True

    async def _save(self, t: Timeline, cursor: dict[str, Any]) -> bool:
        """Save `t`'s cursor unless the stored one is already further (`last_id` newer): a replica that
        lost the lease while a page was on its way must not move the new holder's cursor back."""
        stored = await self.store.state.get(t.fact)
        stored_last = stored.get("last_id") if isinstance(stored, dict) else None
        if newest_id([stored_last, cursor["last_id"]]) not in (None, cursor["last_id"]):
            return False
        await self.store.state.put(t.fact, cursor)
        return True

    async def _accept(self, t: Timeline, mode: str, page: Mapping[str, Any]) -> int:
        parsed = t.parse(page, self.settings.account_id)
        if parsed.problems:
            body = json.dumps(page, sort_keys=True).encode()
            await self.store.quarantine(polled_source(t.name), body, "; ".join(parsed.problems)[:2000])
        result = await accept_x_body(self.store, self.metrics, parsed, webhook=False)
        self.metrics.x_polled.labels(t.name, mode).inc(result.accepted)
        return result.accepted


def _fresh(
    raw: list[dict[str, Any]], last_id: str | None, floor_time: float
) -> tuple[list[dict[str, Any]], bool]:
    """The items of a page (newest first) that are newer than what was read already (`last_id`) and
    than the oldest time to take, and whether the page reaches back to those (the walk ends there).

    An item whose id is no X id (`fields.optional_id`: '²' is not one) cannot be placed: it never ends
    the walk, and it goes with the fresh items, to be set aside by the parser, when there are some."""
    fresh: list[dict[str, Any]] = []
    unplaced: list[dict[str, Any]] = []
    reached = False
    for item in raw:
        item_id = f.optional_id(item.get("id"))
        when = created_at(item)
        if when is not None and when < floor_time:
            reached = True
        elif item_id is None and last_id:
            unplaced.append(item)
        elif last_id and item_id is not None and int(item_id) <= int(last_id):
            reached = True
        else:
            fresh.append(item)
    return (fresh + unplaced if fresh else fresh), reached
