"""Operator actions on the quarantine, shared by `sav-bridge quarantine …` and `/api/v1/quarantine`.

A replay reads a kept body again with today's parser (after a fix was deployed) and accepts what it
reads exactly as when a body arrives, through the same functions (`accept_x_body`,
`accept_helpdesk_notice`): the same event ids, so nothing is accepted twice, however often it is
replayed and whether or not the sender delivered it again meanwhile. By source:

- `x`: an X webhook body. Its event ids are the posts' and DMs' own. A revocation it announced is old
  news and is not raised again, and it does not count as the webhook's latest delivery.
- `x:<timeline>` (`x:mentions`, `x:dm_events`): a page read by polling, read by that timeline's parser.
- the helpdesk's name: a helpdesk notice. Its request headers were not kept, and some plugins take the
  delivery id from them, so its events are named after the body's SHA-256 instead
  (`quarantine:<digest>:<ticket>`): a replay never counts twice, and one that rings a ticket the sender
  rang again meanwhile only makes the worker look at the ticket again (its replies are keyed by comment).

A body read in full leaves the quarantine; one read in part (some items still unreadable) is accepted
for what it holds and stays with today's reason; one read not at all stays as it was, with today's reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from sav_bridge.channels.x.events import CHANNEL, ParsedBody, parse_body
from sav_bridge.channels.x.poll import polled_source, timelines
from sav_bridge.errors import MalformedRequest
from sav_bridge.flows import accept_helpdesk_notice, accept_x_body
from sav_bridge.helpdesks import Helpdesk
from sav_bridge.metrics import Metrics
from sav_bridge.ops.jobs import Refused, iso
from sav_bridge.ops.scrub import Scrubber
from sav_bridge.store import Store
from sav_bridge.store.database import Row
from sav_bridge.store.job_admin import Change, JobAdmin
from sav_bridge.store.quarantine_admin import QuarantineAdmin

#: What `show` prints of a body at most (a person reads the start; the digest names the rest).
SHOW_CHARS = 8000


@dataclass(frozen=True)
class Outcome:
    """What a replay made of one body: `read` is "all", "part" or "none"."""

    read: str
    accepted: int = 0
    duplicates: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class QuarantineOps:
    store: Store
    metrics: Metrics
    scrub: Scrubber
    account_id: str
    helpdesk: Helpdesk

    @property
    def admin(self) -> QuarantineAdmin:
        return QuarantineAdmin(self.store.db, self.store.clock)

    async def list(self, source: str | None, limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
        rows = await self.admin.find(source or None, limit)
        return [self.summary(r) for r in rows[:limit]], len(rows) > limit

    def summary(self, row: Row) -> dict[str, Any]:
        return {
            "id": int(row["id"]), "source": row["source"], "digest": row["digest"],
            "reason": self.scrub.text(row["reason"]), "received_at": iso(row["received_at"]),
            "size": int(row["size"]) if "size" in row else len(row["body"]),
        }  # fmt: skip

    async def show(self, row_id: int) -> dict[str, Any]:
        """The row with its body scrubbed (JSON shown as a document, anything else as text, cut)."""
        row = await self._row(row_id)
        try:
            shown: Any = self.scrub.document(json.loads(row["body"]))
            kind = "json"
        except (ValueError, RecursionError):
            body = str(row["body"])
            shown = self.scrub.raw(body[:SHOW_CHARS]) + ("…" if len(body) > SHOW_CHARS else "")
            kind = "text"
        history = [
            {"at": iso(h["at"]), "actor": h["actor"], "address": h["address"], "detail": h["detail"]}
            for h in await _history(self.store, row_id)
        ]
        return {**self.summary(row), "body_format": kind, "body": shown, "history": history}

    async def replay(self, row_id: int, change: Change) -> dict[str, Any]:
        row = await self._row(row_id)
        outcome = await self._accept(row)
        detail = {"accepted": outcome.accepted, "duplicates": outcome.duplicates}
        summary = self.summary(row)
        counted = f"{outcome.accepted} event(s) accepted, {outcome.duplicates} already there"
        if outcome.read == "all":
            released = await self.admin.release(row, change, detail)
            gone = "it leaves the quarantine" if released else "another replay took it out first"
            message = f"quarantined body {row_id} ({row['source']}) read in full: {counted}; {gone}"
        elif outcome.read == "part":
            await self.admin.keep(row, outcome.reason or "", change, detail)
            message = (f"quarantined body {row_id} ({row['source']}) read in part: {counted}; it stays, "
                       f"since {self.scrub.text(outcome.reason or '')}")  # fmt: skip
        else:
            await self.admin.keep(row, outcome.reason or "", change, detail)
            message = (f"quarantined body {row_id} ({row['source']}) still cannot be read: "
                       f"{self.scrub.text(outcome.reason or '')}; it stays")  # fmt: skip
        return {"quarantine": summary, "read": outcome.read, "accepted": outcome.accepted,
                "duplicates": outcome.duplicates, "message": message}  # fmt: skip

    async def _accept(self, row: Row) -> Outcome:
        source, body = str(row["source"]), str(row["body"]).encode("utf-8", "surrogatepass")
        if source == self.helpdesk.name:
            return await self._accept_notice(row, body)
        parse = self._x_reader(source)
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return Outcome("none", reason="body is not valid JSON")
        try:
            parsed = parse(document)
        except MalformedRequest as exc:
            return Outcome("none", reason=exc.reason)
        if not parsed.usable:
            return Outcome("none", reason="; ".join(parsed.problems) or "nothing in it could be read")
        parsed.brand_revoked = False  # old news: the alert was raised, or not, when it came
        result = await accept_x_body(self.store, self.metrics, parsed, webhook=False)
        problems = "; ".join(parsed.problems)[:2000] or None
        return Outcome("part" if problems else "all", result.accepted, result.duplicates, problems)

    def _x_reader(self, source: str) -> Any:
        if source == CHANNEL:
            return lambda document: parse_body(document, self.account_id)
        for timeline in timelines(self.account_id):
            if source == polled_source(timeline.name):
                return lambda document: _polled(timeline.parse, document, self.account_id)
        raise Refused(
            409, f"this gateway reads {CHANNEL}, its timelines and {self.helpdesk.name}, not {source[:60]!r}"
        )

    async def _accept_notice(self, row: Row, body: bytes) -> Outcome:
        try:
            notice = self.helpdesk.parse_webhook({}, body)
        except MalformedRequest as exc:
            return Outcome("none", reason=exc.reason)
        if not notice.ticket_ids:
            return Outcome("none", reason="it names no ticket")
        named = replace(notice, key=f"quarantine:{row['digest']}", ticket_keys=())
        accepted = await accept_helpdesk_notice(self.store, self.metrics, self.helpdesk.name, named)
        return Outcome("all", accepted, len(named.ticket_ids) - accepted)

    async def _row(self, row_id: int) -> Row:
        row = await self.admin.get(row_id)
        if row is None:
            raise Refused(404, f"no quarantined body has id {row_id}")
        return row


def _polled(parse: Any, document: Any, account_id: str) -> ParsedBody:
    if not isinstance(document, dict):
        raise MalformedRequest("a polled page is a JSON object")
    parsed: ParsedBody = parse(document, account_id)
    return parsed


async def _history(store: Store, row_id: int) -> list[dict[str, Any]]:
    return await JobAdmin(store.db, store.clock).history(f"quarantine/{row_id}")
