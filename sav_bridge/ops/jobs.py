"""Operator actions on the outbox, shared by `sav-bridge jobs …` and `/api/v1/jobs`.

- `retry`: a dead or waiting job runs at the next worker's look, its attempt count kept (a dead job
  that had used them all goes back to the dead letters at its next failure).
- `replay`: a dead or skipped job goes back to pending with the same idempotency key and its attempts
  back to 1 (`workers.max_attempts` tries again; 1, not 0: at its next claim the handler sees
  `attempts > 1`, so the helpdesk plugin looks for an earlier write before making one). A done job
  needs `force`: its handler then finds what it did recorded (effects and intents under its keys, or
  the helpdesk's own record of the idempotency key) and reconciles instead of writing again.
- `skip`: a dead job will never run; its conversation's later jobs go on. A reason is required.
Each change is written to the administration log with who, from where and why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sav_bridge.flows.outbound import JOB_PUBLISH_REPLY, replies_ordering, reply_writes
from sav_bridge.ops.scrub import Scrubber
from sav_bridge.store import Store
from sav_bridge.store.database import Row, storable_text
from sav_bridge.store.job_admin import STATES, Change, JobAdmin, JobFilter

ARCHIVED_NOTE = ("archived by retention: the archive keeps the job's kind, keys, attempts and times, not its "
                 "payload; what it posted on X stays recorded under its reply's keys")  # fmt: skip
#: A listing's error column keeps this many characters; `show` keeps the whole (scrubbed) error.
LIST_ERROR = 200
MAX_LIMIT = 1000
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Refused(Exception):
    """An action the job's state (or the request) does not allow: `status` (400, 404, 409) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_duration(text: str) -> float:
    """Seconds in "90s", "30m", "2h", "3d", "1w" or a sequence ("1h30m"); `ValueError` otherwise."""
    cleaned = text.strip().lower()
    if not cleaned or _DURATION.sub("", cleaned) or len(cleaned) > 40:
        raise ValueError(f"not a duration: {text[:40]!r} (write 90s, 30m, 2h, 3d or 1h30m)")
    return sum(float(n) * _UNIT[unit] for n, unit in _DURATION.findall(cleaned))


def job_filter(
    state: str | None, kind: str | None, conversation: str | None, older_than: str | None, limit: int | None,
    now: float,
) -> JobFilter:  # fmt: skip
    """The filter of a listing, checked; `Refused(400)` naming what is wrong."""
    if state and state not in STATES:
        raise Refused(400, f"state is one of {', '.join(STATES)}, not {state[:40]!r}")
    try:
        created_before = now - parse_duration(older_than) if older_than else None
    except ValueError as exc:
        raise Refused(400, f"older_than: {exc}") from None
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise Refused(400, f"limit is 1 to {MAX_LIMIT}")
    return JobFilter(
        state or None, plain("kind", kind), plain("conversation", conversation), created_before, limit or 50
    )


def plain(name: str, value: str | None) -> str | None:
    """A text filter as the store compares it; `Refused(400)` for characters no key holds (NUL, which
    PostgreSQL refuses in a query, or a lone surrogate, which no driver encodes)."""
    if not value:
        return None
    if storable_text(value) != value or len(value) > 1000:
        raise Refused(400, f"{name}: no {name} holds such characters")
    return value


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def span(seconds: float) -> str:
    """A duration for people: "45s", "12m", "3h05m", "2d04h"."""
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m" if minutes else f"{secs}s"


@dataclass(frozen=True)
class JobOps:
    store: Store
    scrub: Scrubber

    @property
    def admin(self) -> JobAdmin:
        return JobAdmin(self.store.db, self.store.clock)

    async def list(self, where: JobFilter) -> tuple[list[dict[str, Any]], bool]:
        """Jobs newest first, and whether more match than `where.limit`."""
        rows = await self.admin.find(where)
        now = self.store.clock()
        return [self.summary(r, now) for r in rows[: where.limit]], len(rows) > where.limit

    def summary(self, row: Row, now: float, error_chars: int | None = LIST_ERROR) -> dict[str, Any]:
        error = self.scrub.text(row["last_error"]) if row["last_error"] else None
        if error is not None and error_chars is not None and len(error) > error_chars:
            error = error[: error_chars - 1] + "…"
        pending = row["state"] == "pending"
        return {
            "id": int(row["id"]), "kind": row["kind"], "state": row["state"], "attempts": int(row["attempts"]),
            "created_at": iso(row["created_at"]), "age_seconds": round(now - float(row["created_at"]), 1),
            "updated_at": iso(row["updated_at"]),
            "next_attempt_at": iso(row["next_attempt_at"]) if pending else None,
            "due_in_seconds": round(float(row["next_attempt_at"]) - now, 1) if pending else None,
            "lease_until": iso(row["lease_until"]) if row["state"] == "running" else None,
            "ordering_key": row["ordering_key"], "idempotency_key": row["idempotency_key"],
            "held_by": row["held_by"] if row["state"] in ("pending", "running") else None,
            "last_error": error,
        }  # fmt: skip

    async def show(self, job_id: int) -> dict[str, Any]:
        """Everything about one job: its row, its payload (scrubbed), what it recorded doing outside, what
        waits behind it, its conversation's ticket and what people did to it. A job retention archived
        shows what the archive keeps (kind, keys, attempts, times) and its history."""
        row = await self._row(job_id, archived_ok=True)
        now = self.store.clock()
        payload = _payload(row)
        admin = self.admin
        effects = [_effect(e, self.scrub) for e in await admin.effects(effect_prefixes(row["kind"], payload))]
        behind = await admin.behind(job_id, row["ordering_key"]) if row["state"] == "dead" else []
        return {
            **self.summary(row, now, error_chars=None),
            "lease_token": int(row["lease_token"]),
            "payload": self.scrub.document(payload),
            "effects": effects,
            "effects_note": _effects_note(row["kind"]) if not row.get("archived") else ARCHIVED_NOTE,
            "archived": bool(row.get("archived")),
            "ticket": await self._ticket(row["ordering_key"]),
            "holds": [{"id": int(b["id"]), "kind": b["kind"], "state": b["state"]} for b in behind],
            "history": [
                {
                    "at": iso(h["at"]),
                    "actor": h["actor"],
                    "action": h["action"],
                    "address": h["address"],
                    "reason": self.scrub.text(str(h["detail"].get("reason", ""))),
                }
                for h in await admin.history(f"job/{job_id}")
            ],
        }

    async def retry(self, job_id: int, change: Change) -> dict[str, Any]:
        row = await self._row(job_id)
        moved = await self.admin.retry(job_id, change)
        if moved is None:
            raise Refused(409, _not_now(row, "retried", await self._fresh_state(job_id)))
        return await self._done(moved, f"job {job_id} ({moved['kind']}) runs at the next worker's look, "
                                  f"attempts kept ({moved['attempts']})")  # fmt: skip

    async def replay(self, job_id: int, change: Change, force: bool = False) -> dict[str, Any]:
        row = await self._row(job_id)
        moved = await self.admin.replay(job_id, change, force)
        if moved is None:
            raise Refused(409, _not_now(row, "replayed", await self._fresh_state(job_id)))
        message = (f"job {job_id} ({moved['kind']}) is pending again with idempotency key "
                   f"{moved['idempotency_key']}")  # fmt: skip
        if row["state"] == "done":
            recorded = await self.admin.effects(effect_prefixes(row["kind"], _payload(row)))
            kept = ", ".join(e["key"] for e in recorded if not e["key"].startswith("intent:"))
            message += (f"; what it did is recorded ({kept}), so it reconciles instead of writing again" if kept
                        else "; the helpdesk knows this key, so it reconciles instead of writing again")  # fmt: skip
        return await self._done(moved, message)

    async def skip(self, job_id: int, change: Change) -> dict[str, Any]:
        if not change.reason.strip():
            raise Refused(400, "skipping a job needs a reason (it goes to the administration log)")
        row = await self._row(job_id)
        moved = await self.admin.skip(job_id, change)
        if moved is None:
            raise Refused(409, _not_now(row, "skipped", await self._fresh_state(job_id)))
        return await self._done(moved, f"job {job_id} ({moved['kind']}) is skipped: it will never run, and its "
                                  "conversation goes on")  # fmt: skip

    async def _done(self, moved: Row, message: str) -> dict[str, Any]:
        """What an action answers: the job as it is now and a sentence for the person."""
        summary = self.summary(await self._row(int(moved["id"])), self.store.clock())
        if summary["held_by"] is not None:
            message += (f"; it waits behind dead job {summary['held_by']} of its conversation "
                        "(replay or skip that one)")  # fmt: skip
        return {"job": summary, "message": message}

    async def _row(self, job_id: int, archived_ok: bool = False) -> Row:
        row = await self.admin.get(job_id)
        if row is not None:
            return row
        archived = await self.admin.archived(job_id)
        if archived is None:
            raise Refused(404, f"no job has id {job_id}")
        if not archived_ok:
            raise Refused(409, f"job {job_id} was {archived['state']} and is archived (retention.done_job_days): "
                               "its payload is not kept, so it cannot run again")  # fmt: skip
        return archived

    async def _fresh_state(self, job_id: int) -> str:
        row = await self.admin.get(job_id)
        return str(row["state"]) if row else "gone"

    async def _ticket(self, ordering_key: str) -> str | None:
        """The helpdesk ticket of the job's conversation, when it has one (where its effect shows)."""
        suffix = replies_ordering("")
        thread = ordering_key[: -len(suffix)] if ordering_key.endswith(suffix) else ordering_key
        conv = await self.store.conversation(thread)
        return f"{conv.ticket.helpdesk}:{conv.ticket.id}" if conv and conv.ticket else None


def _payload(row: Row) -> dict[str, Any]:
    try:
        payload = json.loads(row["payload"])
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def effect_prefixes(kind: str, payload: Mapping[str, Any]) -> list[str]:
    """The keys under which a job of `kind` records its writes (`Store.effect`, intents), if any."""
    if kind == JOB_PUBLISH_REPLY and isinstance(payload.get("helpdesk"), str) and payload.get("comment_id"):
        return list(reply_writes(payload["helpdesk"], str(payload["comment_id"])))
    return []


def _effects_note(kind: str) -> str:
    if kind == JOB_PUBLISH_REPLY:
        return ("posts and DMs on X: a result is the id X gave; an intent is a write sent (or about to be) "
                "whose result is not known, which the next run reads back on X instead of sending again")  # fmt: skip
    return ("writes to the helpdesk are made once by the helpdesk itself, under the job's idempotency key "
            "(nothing is recorded here); the ticket shows them")  # fmt: skip


def _effect(row: Row, scrub: Scrubber) -> dict[str, Any]:
    key = str(row["key"])
    intent = key.startswith("intent:")
    try:
        value = json.loads(row["value"])
    except ValueError:
        value = None
    return {
        "key": key.removeprefix("intent:"),
        "type": "intent" if intent else "result",
        "value": scrub.document(value),
        "recorded_at": iso(row["created_at"]),
    }


def _not_now(row: Row, done: str, state: str) -> str:
    """Why a job in `state` cannot be `done` ("replayed") now, and what can."""
    job = f"job {row['id']} is {state}"
    reasons = {
        "running": f"{job}: a worker holds it now; wait for its outcome",
        "pending": f"{job} already; `retry` runs it now" if done != "retried" else job,
        "done": f'{job}: re-sending it needs --force (API: {{"force": true}}); it cannot write twice'
        if done == "replayed"
        else f"{job}: `replay --force` sends it again",
        "skipped": f"{job}: `replay` runs it again",
        "dead": f"{job}: `retry` or `replay` runs it again",
        "gone": f"job {row['id']} no longer exists",
    }
    if done == "skipped" and state != "dead":
        return f"only a dead job can be skipped; {job}"
    return reasons.get(state, job)
