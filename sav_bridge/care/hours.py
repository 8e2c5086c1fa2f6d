"""Office hours: when the care team is there, and how many of its open minutes lie between two instants.

A week of local ranges in one IANA time zone, less public holidays (the `holidays` library, by country and
subdivision), extra days off and announced closures. Each local day is turned into aware instants on its own,
so a change of clock moves nothing a customer would notice: 09:00-18:00 is nine open hours on both sides of
the change, and only the night around it is an hour shorter or longer.

No `care.hours` at all means always open: nothing to announce, and response targets count every minute.
A schedule with no range on any day never opens: `next_opening` answers None and targets never fall due.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from holidays import HolidayBase

from sav_bridge.care import schedule
from sav_bridge.care.schedule import Closure, Week
from sav_bridge.errors import ConfigError

# Further than this without one open minute counts as never: a closure of years is a team that is gone.
HORIZON_DAYS = 3 * 366
DEFAULT_TAG = "sav_after_hours"
_KEYS = ("timezone", "weekly", "holidays", "extra_holidays", "closures", "after_hours_tag")
_DAY = timedelta(days=1)

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class OfficeHours:
    """The team's opening times; build it with `from_config`. `zone` is None when always open."""

    zone: ZoneInfo | None = None
    week: Week = ((), (), (), (), (), (), ())
    public_holidays: HolidayBase | None = None
    days_off: frozenset[date] = frozenset()
    closures: tuple[Closure, ...] = ()
    after_hours_tag: str = DEFAULT_TAG

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None, key: str = "care.hours") -> OfficeHours:
        """`care.hours` as read from the configuration; None or {} = always open.
        Raises ConfigError naming the key (`care.hours.weekly.mon[0]`) on anything it cannot use."""
        if not raw:
            return cls()
        for name in raw:
            if name not in _KEYS:
                raise ConfigError(f"{key}.{name}", "is not a known key")
        zone = schedule.parse_zone(raw.get("timezone"), f"{key}.timezone")
        return cls(
            zone=zone,
            week=schedule.parse_week(raw.get("weekly"), f"{key}.weekly"),
            public_holidays=schedule.parse_holidays(raw.get("holidays"), f"{key}.holidays"),
            days_off=schedule.parse_days_off(raw.get("extra_holidays"), f"{key}.extra_holidays"),
            closures=schedule.parse_closures(raw.get("closures"), zone, f"{key}.closures"),
            after_hours_tag=schedule.parse_tag(
                raw.get("after_hours_tag", DEFAULT_TAG), f"{key}.after_hours_tag"
            ),
        )

    @property
    def always_open(self) -> bool:
        return self.zone is None

    @property
    def never_opens(self) -> bool:
        return self.zone is not None and not any(self.week)

    def is_open(self, at: datetime) -> bool:
        """Whether the team is there at this aware instant."""
        if self.zone is None:
            return True
        instant = _utc(at)
        return any(start <= instant < end for start, end in self._spans(at.astimezone(self.zone).date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """The first instant from `at` on when the team is there, in its time zone: `at` itself when open.
        None when always open (nothing to announce) or when it never opens again (within HORIZON_DAYS)."""
        if self.zone is None or self.never_opens:
            return None
        instant = _utc(at)
        for start, end in self._spans_from(at):
            if end > instant:
                return max(start, instant).astimezone(self.zone)
        return None

    def closed_reason(self, at: datetime) -> str | None:
        """Why the team is away, for a ticket note: "holiday: Noël", "closure: fermeture annuelle",
        "outside hours"; None when open."""
        if self.zone is None or self.is_open(at):
            return None
        day = at.astimezone(self.zone).date()
        if self.public_holidays is not None and day in self.public_holidays:
            return f"holiday: {self.public_holidays.get(day)}"
        if day in self.days_off:
            return "holiday: day off"
        instant = _utc(at)
        for closure in self.closures:
            if closure.start <= instant < closure.end:
                return f"closure: {closure.reason}" if closure.reason else "closure"
        return "outside hours"

    def business_minutes(self, start: datetime, end: datetime) -> float:
        """Open minutes between two aware instants (0 when `end` is not after `start`)."""
        first, last = _utc(start), _utc(end)
        if last <= first:
            return 0.0
        if self.zone is None:
            return (last - first).total_seconds() / 60
        total = timedelta()
        day, final = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= final:
            for span_start, span_end in self._spans(day):
                overlap = min(span_end, last) - max(span_start, first)
                if overlap > timedelta():
                    total += overlap
            day += _DAY
        return total.total_seconds() / 60

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime | None:
        """The instant at which `minutes` of open time have passed since `start` (a response target's due
        time), in the team's time zone. None when the team never opens long enough (within HORIZON_DAYS)."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        left = timedelta(minutes=minutes)
        if self.zone is None:
            return start + left
        instant = _utc(start)
        if not left:
            return instant.astimezone(self.zone)
        for span_start, span_end in self._spans_from(start):
            if span_end <= instant:
                continue
            begin = max(span_start, instant)
            if span_end - begin >= left:
                return (begin + left).astimezone(self.zone)
            left -= span_end - begin
        return None

    def _spans_from(self, at: datetime) -> Iterator[Span]:
        """Open spans from the local day of `at` on, stopping after HORIZON_DAYS days with none."""
        if self.zone is None or self.never_opens:
            return
        day, quiet = at.astimezone(self.zone).date(), 0
        while quiet < HORIZON_DAYS:
            spans = self._spans(day)
            quiet = 0 if spans else quiet + 1
            yield from spans
            day += _DAY

    def _spans(self, day: date) -> list[Span]:
        """The open spans of one local day as UTC instants, closures taken out."""
        if self.zone is None or day in self.days_off:
            return []
        if self.public_holidays is not None and day in self.public_holidays:
            return []
        spans: list[Span] = []
        for first, last in self.week[day.weekday()]:
            start, end = _instant(day, first, self.zone), _instant(day, last, self.zone)
            if end > start:  # a range inside the hour skipped in spring is empty
                spans.extend(_without(start, end, self.closures))
        return spans


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """Local wall-clock time `minute` (0-1440) of `day` as a UTC instant; a time the spring change skips
    falls an hour later, a time the autumn change repeats is taken the first time."""
    if minute == 24 * 60:
        day, minute = day + _DAY, 0
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    return local.astimezone(UTC)


def _without(start: datetime, end: datetime, closures: tuple[Closure, ...]) -> list[Span]:
    pieces = [(start, end)]
    for closure in closures:
        kept: list[Span] = []
        for begin, finish in pieces:
            if closure.end <= begin or closure.start >= finish:
                kept.append((begin, finish))
                continue
            if begin < closure.start:
                kept.append((begin, closure.start))
            if closure.end < finish:
                kept.append((closure.end, finish))
        pieces = kept
    return pieces


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("office hours need an aware datetime (UTC is fine)")
    return at.astimezone(UTC)
