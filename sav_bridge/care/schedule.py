"""Reading `care.hours` from the configuration: each value checked, each refusal naming its key.

The schema catches shapes; this catches what a schema cannot say (a range that runs past midnight, an unknown
time zone or holiday country, a closure that ends before it starts) and also guards callers that build office
hours straight from a mapping (tests, `sav-bridge care check`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from holidays import HolidayBase

from sav_bridge.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_TAG = re.compile(r"^[A-Za-z0-9_:.-]{1,80}$")  # as care.personal_data.tag

Day = tuple[
    tuple[int, int], ...
]  # (first minute, end minute) pairs, minutes from local midnight, 1440 = 24:00
Week = tuple[Day, ...]  # seven days, Monday first
ALL_DAY: Day = ((0, 24 * 60),)


@dataclass(frozen=True)
class Closure:
    """An announced closure: closed from `start` (included) to `end` (excluded), aware UTC instants."""

    start: datetime
    end: datetime
    reason: str = ""


def parse_zone(raw: Any, key: str) -> ZoneInfo:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(key, "is required: an IANA time zone such as Europe/Paris")
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(key, "is not a known IANA time zone (such as Europe/Paris)") from None


def parse_week(raw: Any, key: str) -> Week:
    """The weekly schedule; absent = open all day every day (holidays and closures still apply). A day
    left out, or given an empty list, is closed."""
    if raw is None:
        return (ALL_DAY,) * 7
    if not isinstance(raw, dict):
        raise ConfigError(key, "must be a mapping of days (mon … sun) to lists of ranges such as 09:00-18:00")
    for name in raw:
        if name not in WEEKDAYS:
            raise ConfigError(f"{key}.{name}", "is not a day: use mon, tue, wed, thu, fri, sat, sun")
    return tuple(_parse_day(raw.get(name), f"{key}.{name}") for name in WEEKDAYS)


def _parse_day(raw: Any, key: str) -> Day:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(key, "must be a list of ranges such as 09:00-18:00 ([] = closed)")
    ranges = sorted(_parse_range(item, f"{key}[{index}]") for index, item in enumerate(raw))
    merged: list[tuple[int, int]] = []
    for first, last in ranges:
        if merged and first <= merged[-1][1]:  # overlapping or touching ranges are one
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _parse_range(raw: Any, key: str) -> tuple[int, int]:
    found = _RANGE.match(raw) if isinstance(raw, str) else None
    if found is None:
        raise ConfigError(key, "must look like 09:00-18:00")
    first_h, first_m, last_h, last_m = (int(part) for part in found.groups())
    if first_h > 23 or first_m > 59 or last_m > 59 or last_h > 24 or (last_h == 24 and last_m):
        raise ConfigError(key, "must look like 09:00-18:00 (hours 00-23, or 24:00 to end at midnight)")
    first, last = first_h * 60 + first_m, last_h * 60 + last_m
    if last < first:
        raise ConfigError(
            key, "must not run past midnight: end the day at 24:00 and start the next one at 00:00"
        )
    if last == first:
        raise ConfigError(key, "is empty (it starts when it ends)")
    return first, last


def parse_holidays(raw: Any, key: str) -> HolidayBase | None:
    """A country's public holidays (and its subdivision's), named in the country's own language."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(key, "must be a mapping with country (such as FR) and optionally subdivision")
    for name in raw:
        if name not in ("country", "subdivision"):
            raise ConfigError(f"{key}.{name}", "is not a known key")
    country, subdivision = raw.get("country"), raw.get("subdivision")
    if country is None:
        return None
    if not isinstance(country, str):
        raise ConfigError(f"{key}.country", "must be an ISO 3166 country code such as FR")
    if subdivision is not None and not isinstance(subdivision, str | int):
        raise ConfigError(f"{key}.subdivision", "must be a subdivision code such as 57 (Moselle)")
    try:
        found = holidays.country_holidays(country.upper())
    except NotImplementedError:
        raise ConfigError(f"{key}.country", "is not a country the holidays library knows") from None
    try:
        # In the country's own language, not the process's locale (which the library reads otherwise).
        return holidays.country_holidays(
            country.upper(),
            subdiv=None if subdivision is None else str(subdivision),
            language=found.default_language,
        )
    except NotImplementedError:
        known = ", ".join(found.subdivisions) or "none"
        raise ConfigError(
            f"{key}.subdivision", f"is not a subdivision of {country.upper()} (known: {known})"
        ) from None


def parse_days_off(raw: Any, key: str) -> frozenset[date]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise ConfigError(key, "must be a list of dates such as 2026-12-24")
    return frozenset(_parse_date(item, f"{key}[{index}]") for index, item in enumerate(raw))


def _parse_date(raw: Any, key: str) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):  # YAML reads an unquoted date as one
        return raw
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise ConfigError(key, "must be a date such as 2026-12-24") from None


def parse_closures(raw: Any, zone: ZoneInfo, key: str) -> tuple[Closure, ...]:
    """Announced closures in the team's local time (an offset, when written, is kept)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(key, "must be a list of {from, to, reason}")
    closures = []
    for index, item in enumerate(raw):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(where, "must be a mapping with from, to and optionally reason")
        for name in item:
            if name not in ("from", "to", "reason"):
                raise ConfigError(f"{where}.{name}", "is not a known key")
        start = _parse_moment(item.get("from"), zone, f"{where}.from")
        end = _parse_moment(item.get("to"), zone, f"{where}.to")
        if end <= start:
            raise ConfigError(f"{where}.to", "must be after from")
        reason = item.get("reason", "")
        if not isinstance(reason, str):
            raise ConfigError(f"{where}.reason", "must be a string")
        closures.append(Closure(start, end, reason.strip()))
    return tuple(sorted(closures, key=lambda closure: closure.start))


def _parse_moment(raw: Any, zone: ZoneInfo, key: str) -> datetime:
    expected = "must be a local date and time such as 2026-12-24T12:00 (or a date: from its midnight)"
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime.combine(raw, time())
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ConfigError(key, expected) from None
    else:
        raise ConfigError(key, expected)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def parse_tag(raw: Any, key: str) -> str:
    if not isinstance(raw, str) or not _TAG.fullmatch(raw):
        raise ConfigError(key, "must be a tag: letters, digits, _ : . - (80 at most)")
    return raw
