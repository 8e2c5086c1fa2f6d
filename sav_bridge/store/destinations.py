"""Per-destination rate limits, parks and circuit breakers, one row per destination shared by every replica.

A destination is where jobs write: "x", or the helpdesk plugin's name. Each operation is one short
transaction whose decision is made by the database itself (an upsert or an update whose `RETURNING`
says what it did), so replicas racing on the same row cannot both win:

- `park`: the vendor said "slow down" (429, `Retry-After`, `x-rate-limit-reset`, a spent quota); nothing
  goes to it before `parked_until`, which only moves forward.
- the breaker: `failure` counts failures in a row; at `threshold` the breaker opens for a cooldown that
  doubles each time it opens again (30 s, 60 s, … 10 min). Once the cooldown has passed, `admit` lets
  exactly one caller through as the probe (moving `open_until` forward by `probe_seconds`, so the others
  keep waiting); its `success` closes the breaker, its `failure` opens it again, for longer.
- `reserve`: the next free request slot under a rate limit (GCRA: each request moves `next_slot` one
  interval past the later of itself and now), so every replica together keeps to the limit.
- `blocked`: what is parked or open now, in one query, for the outbox's claim to skip.

Times are the injected clock's (epoch seconds): replicas on several machines need their clocks in sync
(NTP) for a shared rate limit to hold.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sav_bridge.config import same_secret
from sav_bridge.store.database import Database, Row, storable_text

Clock = Callable[[], float]

#: A vendor's wait is clamped to this range: under a second is not worth a park, and past an hour a
#: person should look (a `Retry-After` typo must not park a destination for a day).
MIN_PARK = 1.0
MAX_PARK = 3600.0
THRESHOLD = 5
COOLDOWN = 30.0
MAX_COOLDOWN = 600.0
PROBE_SECONDS = 60.0


def clamp_park(seconds: float) -> float:
    """A park's length within [MIN_PARK, MAX_PARK]; an unreadable one (NaN) is the shortest."""
    if math.isnan(seconds):
        return MIN_PARK
    return min(max(seconds, MIN_PARK), MAX_PARK)


@dataclass(frozen=True)
class Slot:
    """A request slot: when the caller may send, and whether the slot is its own (`reserve`)."""

    at: float
    taken: bool


@dataclass(frozen=True)
class Destination:
    """One destination's shared state, as `state()` reads it for the metrics and the operator."""

    name: str
    parked_until: float
    #: None: the breaker is closed.
    open_until: float | None
    failures: int
    #: Times the breaker opened in a row (its next cooldown doubles with each).
    opened: int
    next_slot: float
    detail: str
    updated_at: float

    @property
    def breaker_open(self) -> bool:
        """Open or half-open: it opened and no success has closed it since."""
        return self.open_until is not None

    def parked_seconds(self, now: float) -> float:
        return max(self.parked_until - now, 0.0)

    def held_until(self, now: float) -> float | None:
        """Until when nothing may be sent to it (parked, or its breaker open and not yet due for a probe);
        None when it is free at `now`."""
        until = max(self.parked_until, self.open_until or 0.0)
        return until if until > now else None


class Destinations:
    """The `destinations` table (module docstring)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        threshold: int = THRESHOLD,
        cooldown: float = COOLDOWN,
        max_cooldown: float = MAX_COOLDOWN,
        probe_seconds: float = PROBE_SECONDS,
    ) -> None:
        self.db = db
        self.clock = clock
        self.threshold = threshold
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.probe_seconds = probe_seconds
        # SQLite's two-argument MAX is PostgreSQL's GREATEST (whose MAX is only an aggregate).
        self._max = "GREATEST" if db.dialect == "postgresql" else "MAX"

    async def park(self, name: str, seconds: float, detail: str = "") -> float:
        """Hold `name` for `seconds` (clamped to [1 s, 1 h]) from now, unless it is parked for longer
        already; returns until when it is parked."""
        now = self.clock()
        until = now + clamp_park(seconds)
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO destinations (name, parked_until, detail, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET"
                f" parked_until = {self._max}(destinations.parked_until, excluded.parked_until),"
                " detail = CASE WHEN excluded.parked_until > destinations.parked_until THEN excluded.detail"
                " ELSE destinations.detail END, updated_at = excluded.updated_at RETURNING parked_until",
                (name, until, _detail(detail), now),
            )
        return float(row["parked_until"]) if row else until

    async def failure(self, name: str, detail: str = "") -> bool:
        """Count a failure of `name` (not a park: the vendor did not say to slow down); True when this
        one opened the breaker: the `threshold`-th in a row, or a failed probe of a half-open breaker.
        A failure while the breaker is open already (a request sent before it opened) only counts."""
        now = self.clock()
        token = uuid.uuid4().hex
        tripped = (
            f"destinations.failures + 1 >= {int(self.threshold)} AND (destinations.open_until IS NULL"
            " OR destinations.open_until <= ? OR destinations.prober IS NOT NULL)"
        )
        first = self.threshold <= 1
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO destinations (name, failures, open_until, opened, opened_by, detail, updated_at)"
                " VALUES (?, 1, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " failures = destinations.failures + 1,"
                f" open_until = CASE WHEN {tripped} THEN ? + {self._cooldowns()} ELSE destinations.open_until END,"
                f" opened = CASE WHEN {tripped} THEN destinations.opened + 1 ELSE destinations.opened END,"
                f" opened_by = CASE WHEN {tripped} THEN ? ELSE destinations.opened_by END,"
                f" prober = CASE WHEN {tripped} THEN NULL ELSE destinations.prober END,"
                " detail = CASE WHEN excluded.detail = '' THEN destinations.detail ELSE excluded.detail END,"
                " updated_at = excluded.updated_at RETURNING opened_by",
                (
                    name, now + self.cooldown if first else None, 1 if first else 0, token if first else None,
                    _detail(detail), now,
                    now, now, now, now, token, now,
                ),
            )  # fmt: skip
        return bool(row and same_secret(row["opened_by"], token))

    def _cooldowns(self) -> str:
        """The cooldown of an opening after `opened` earlier ones in a row, as SQL: `cooldown` doubled each
        time, up to `max_cooldown` (spelled out: SQLite builds without math functions have no POWER)."""
        steps: list[str] = []
        cooldown = self.cooldown
        while cooldown < self.max_cooldown and len(steps) < 32:
            steps.append(f"WHEN {len(steps)} THEN {cooldown!r}")
            cooldown *= 2
        if not steps:
            return repr(float(self.max_cooldown))
        return f"(CASE destinations.opened {' '.join(steps)} ELSE {float(self.max_cooldown)!r} END)"

    async def success(self, name: str) -> None:
        """A request to `name` succeeded: the breaker closes and its counts start again. Writes nothing
        when there is nothing to reset (the usual case)."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "UPDATE destinations SET failures = 0, opened = 0, open_until = NULL, prober = NULL,"
                " updated_at = ? WHERE name = ? AND (failures > 0 OR open_until IS NOT NULL)",
                (self.clock(), name),
            )

    async def admit(self, name: str) -> float | None:
        """May a request go to `name` as far as its breaker is concerned? None: yes (closed, or this caller
        is the one probe of a half-open breaker, which holds the others for `probe_seconds`); otherwise
        until when it is held."""
        now = self.clock()
        token = uuid.uuid4().hex
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE destinations SET prober = CASE WHEN open_until <= ? THEN ? ELSE prober END,"
                " open_until = CASE WHEN open_until <= ? THEN ? ELSE open_until END"
                " WHERE name = ? AND open_until IS NOT NULL RETURNING open_until, prober",
                (now, token, now, now + self.probe_seconds, name),
            )
        if row is None or same_secret(row["prober"], token):
            return None
        return float(row["open_until"])

    async def reserve(self, name: str, per_second: float, within: float = math.inf) -> Slot:
        """The caller's slot under a limit of `per_second` requests shared by every replica: the time it
        may send at (never before `parked_until`). When that is more than `within` seconds away, no slot
        is taken (`Slot.taken` is False): the caller should not wait that long holding a worker."""
        now = self.clock()
        interval = 1.0 / per_second
        start = f"{self._max}(destinations.next_slot, destinations.parked_until, ?)"
        latest = now + within if math.isfinite(within) else 1e300
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO destinations (name, next_slot, updated_at) VALUES (?, ?, ?)"
                f" ON CONFLICT (name) DO UPDATE SET next_slot = {start} + ?"
                f" WHERE {start} <= ? RETURNING next_slot",
                (name, now + interval, now, now, interval, now, latest),
            )
            if row is not None:
                return Slot(float(row["next_slot"]) - interval, True)
            held = await tx.fetchone(
                f"SELECT {self._max}(next_slot, parked_until) AS at FROM destinations WHERE name = ?", (name,)
            )
        return Slot(max(float(held["at"]) if held else now, now), False)

    async def blocked(self, now: float | None = None) -> dict[str, float]:
        """The destinations parked or with an open breaker at `now` (default: the clock's), with the time
        each is held until."""
        now = self.clock() if now is None else now
        held = ((d.name, d.held_until(now)) for d in await self.state())
        return {name: until for name, until in held if until is not None}

    async def state(self) -> list[Destination]:
        """Every destination the gateway has recorded anything about, by name."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall("SELECT * FROM destinations ORDER BY name")
        return [_destination(r) for r in rows]


def _detail(detail: str) -> str:
    return storable_text(detail[:500])


def _destination(row: Row) -> Destination:
    return Destination(
        row["name"],
        float(row["parked_until"]),
        None if row["open_until"] is None else float(row["open_until"]),
        int(row["failures"]),
        int(row["opened"]),
        float(row["next_slot"]),
        row["detail"],
        float(row["updated_at"]),
    )
