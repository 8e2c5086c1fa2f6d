"""Office hours as a care team lives them: nights, weekends, public holidays, the Christmas closure, the
clock changes of Europe/Paris, and response targets counted in open minutes only."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sav_bridge.care.hours import OfficeHours
from sav_bridge.errors import ConfigError

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS_9_18 = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def hours(**overrides: Any) -> OfficeHours:
    raw: dict[str, Any] = {
        "timezone": "Europe/Paris",
        "weekly": dict(WEEKDAYS_9_18),
        "holidays": {"country": "FR"},
    }
    raw.update(overrides)
    return OfficeHours.from_config(raw)


def test_friday_night_reopens_monday_morning() -> None:
    team = hours()
    friday_night = paris(2026, 11, 27, 22, 0)
    assert not team.is_open(friday_night)
    assert team.next_opening(friday_night) == paris(2026, 11, 30, 9, 0)
    assert team.closed_reason(friday_night) == "outside hours"
    # asked in UTC, answered in the team's zone
    reopening = team.next_opening(friday_night.astimezone(UTC))
    assert reopening is not None and reopening.tzinfo == PARIS and reopening.hour == 9


def test_saturday_morning_ranges_close_at_noon() -> None:
    team = hours(weekly={**WEEKDAYS_9_18, "sat": ["09:00-12:00"]})
    assert team.is_open(paris(2026, 11, 28, 11, 59))
    assert not team.is_open(paris(2026, 11, 28, 12, 0))
    assert team.next_opening(paris(2026, 11, 28, 12, 0)) == paris(2026, 11, 30, 9, 0)
    assert team.next_opening(paris(2026, 11, 27, 22, 0)) == paris(2026, 11, 28, 9, 0)


def test_open_now_is_its_own_next_opening() -> None:
    team = hours()
    at = paris(2026, 11, 30, 10, 15)
    assert team.is_open(at)
    assert team.next_opening(at) == at
    assert team.closed_reason(at) is None


def test_lunch_break_between_two_ranges() -> None:
    team = hours(weekly={"mon": ["14:00-18:00", "09:00-12:00"]})
    assert not team.is_open(paris(2026, 11, 30, 12, 30))
    assert team.next_opening(paris(2026, 11, 30, 12, 30)) == paris(2026, 11, 30, 14, 0)
    assert team.business_minutes(paris(2026, 11, 30, 0, 0), paris(2026, 12, 1, 0, 0)) == 7 * 60


def test_christmas_closure_spans_days() -> None:
    closure = {"from": "2026-12-24T12:00", "to": "2026-12-28T09:00", "reason": "fermeture annuelle"}
    team = hours(closures=[closure])
    assert team.is_open(paris(2026, 12, 24, 11, 59))
    assert not team.is_open(paris(2026, 12, 24, 12, 0))
    assert team.closed_reason(paris(2026, 12, 24, 15, 0)) == "closure: fermeture annuelle"
    assert team.next_opening(paris(2026, 12, 24, 15, 0)) == paris(2026, 12, 28, 9, 0)
    # Christmas Day itself is a public holiday inside the closure: the holiday is named
    assert team.closed_reason(paris(2026, 12, 25, 10, 0)) == "holiday: Noël"
    # a closure that ends in the middle of the day opens the rest of it
    short = hours(closures=[{"from": "2026-12-24T12:00", "to": "2026-12-28T10:30"}])
    assert short.next_opening(paris(2026, 12, 24, 15, 0)) == paris(2026, 12, 28, 10, 30)
    assert short.closed_reason(paris(2026, 12, 24, 15, 0)) == "closure"


def test_new_years_day_is_a_holiday() -> None:
    team = hours()
    assert team.closed_reason(paris(2027, 1, 1, 10, 0)) == "holiday: Jour de l'an"
    assert team.next_opening(paris(2026, 12, 31, 20, 0)) == paris(2027, 1, 4, 9, 0)


def test_whit_monday_per_the_holidays_library() -> None:
    team = hours()
    assert team.closed_reason(paris(2026, 5, 25, 10, 0)) == "holiday: Lundi de Pentecôte"
    assert team.next_opening(paris(2026, 5, 22, 19, 0)) == paris(2026, 5, 26, 9, 0)


def test_a_subdivision_adds_its_own_holidays() -> None:
    saturdays = {**WEEKDAYS_9_18, "sat": ["09:00-12:00"]}
    national = hours(weekly=saturdays)
    moselle = hours(weekly=saturdays, holidays={"country": "FR", "subdivision": "57"})
    st_stephen = paris(2026, 12, 26, 10, 0)  # a Saturday, a holiday in Alsace-Moselle only
    assert national.is_open(st_stephen)
    assert not moselle.is_open(st_stephen)
    assert moselle.closed_reason(st_stephen) == "holiday: Saint-Étienne"


def test_extra_holidays_from_yaml_dates_quoted_or_not() -> None:
    raw = yaml.safe_load(
        """
        timezone: Europe/Paris
        weekly: {mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"]}
        extra_holidays: [2026-12-01, "2026-12-02"]
        """
    )
    team = OfficeHours.from_config(raw)
    assert team.closed_reason(paris(2026, 12, 1, 10, 0)) == "holiday: day off"
    assert team.next_opening(paris(2026, 11, 30, 19, 0)) == paris(2026, 12, 7, 9, 0)


def test_spring_clock_change_reopens_at_local_nine() -> None:
    team = hours(weekly={**WEEKDAYS_9_18, "sat": ["09:00-12:00"]})
    # Saturday 28 March 2026 13:00 (UTC+1); the clocks go forward that night
    reopening = team.next_opening(paris(2026, 3, 28, 13, 0))
    assert reopening == paris(2026, 3, 30, 9, 0)
    assert reopening is not None and reopening.astimezone(UTC).hour == 7  # UTC+2 now
    # Friday 17:00 to Monday 10:00: one hour, three on Saturday, one on Monday
    assert team.business_minutes(paris(2026, 3, 27, 17, 0), paris(2026, 3, 30, 10, 0)) == 5 * 60


def test_autumn_clock_change_reopens_at_local_nine() -> None:
    team = hours()
    reopening = team.next_opening(paris(2026, 10, 23, 22, 0))  # the clocks go back on Sunday 25
    assert reopening == paris(2026, 10, 26, 9, 0)
    assert reopening is not None and reopening.astimezone(UTC).hour == 8


def test_a_day_of_clock_change_is_shorter_or_longer() -> None:
    team = hours(weekly={"sun": ["00:00-24:00"]})
    assert team.business_minutes(paris(2026, 3, 29, 0, 0), paris(2026, 3, 30, 0, 0)) == 23 * 60
    assert team.business_minutes(paris(2026, 10, 25, 0, 0), paris(2026, 10, 26, 0, 0)) == 25 * 60
    # a range inside the hour that does not exist opens when the clock reaches it
    night = hours(weekly={"sun": ["02:00-04:00"]})
    assert night.next_opening(paris(2026, 3, 29, 0, 0)) == paris(2026, 3, 29, 3, 0)
    assert night.business_minutes(paris(2026, 3, 29, 0, 0), paris(2026, 3, 30, 0, 0)) == 60


def test_business_minutes_across_a_weekend() -> None:
    team = hours()
    assert team.business_minutes(paris(2026, 11, 27, 17, 0), paris(2026, 11, 30, 10, 0)) == 120
    assert team.add_business_minutes(paris(2026, 11, 27, 17, 30), 60) == paris(2026, 11, 30, 9, 30)
    # a message on Saturday: the hour's target falls due on Monday at 10:00
    assert team.add_business_minutes(paris(2026, 11, 28, 11, 0), 60) == paris(2026, 11, 30, 10, 0)
    # a target that ends exactly at closing time is due then, not at the next opening
    assert team.add_business_minutes(paris(2026, 11, 27, 17, 0), 60) == paris(2026, 11, 27, 18, 0)
    assert team.business_minutes(paris(2026, 11, 30, 10, 0), paris(2026, 11, 27, 17, 0)) == 0


def test_no_hours_means_always_open() -> None:
    for raw in (None, {}):
        team = OfficeHours.from_config(raw)
        at = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
        assert team.always_open and team.is_open(at)
        assert team.next_opening(at) is None
        assert team.closed_reason(at) is None
        assert team.business_minutes(at, at + timedelta(hours=2)) == 120
        assert team.add_business_minutes(at, 90) == at + timedelta(minutes=90)


def test_a_schedule_with_no_range_never_opens() -> None:
    team = hours(weekly={day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    at = paris(2026, 11, 30, 10, 0)
    assert team.never_opens and not team.is_open(at)
    assert team.next_opening(at) is None
    assert team.add_business_minutes(at, 60) is None
    assert team.business_minutes(at, at + timedelta(days=30)) == 0


def test_a_timezone_alone_is_open_all_day_but_holidays() -> None:
    team = OfficeHours.from_config({"timezone": "Europe/Paris", "holidays": {"country": "FR"}})
    assert team.is_open(paris(2026, 11, 29, 3, 0))
    assert team.next_opening(paris(2026, 12, 25, 3, 0)) == paris(2026, 12, 26, 0, 0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        hours().is_open(datetime(2026, 11, 30, 10, 0))


@pytest.mark.parametrize(
    ("raw", "key", "problem"),
    [
        ({"weekly": {"fri": ["22:00-02:00"]}}, "care.hours.weekly.fri[0]", "must not run past midnight"),
        ({"weekly": {"mon": ["9h-18h"]}}, "care.hours.weekly.mon[0]", "must look like 09:00-18:00"),
        ({"weekly": {"mon": ["09:00-18:00", "25:00-26:00"]}}, "care.hours.weekly.mon[1]", "must look like"),
        ({"weekly": {"mon": ["09:00-09:00"]}}, "care.hours.weekly.mon[0]", "is empty"),
        ({"weekly": {"monday": ["09:00-18:00"]}}, "care.hours.weekly.monday", "is not a day"),
        ({"weekly": {"mon": "09:00-18:00"}}, "care.hours.weekly.mon", "must be a list"),
        ({"timezone": "Europe/Pariss"}, "care.hours.timezone", "IANA"),
        ({"timezone": None}, "care.hours.timezone", "is required"),
        ({"holidays": {"country": "XX"}}, "care.hours.holidays.country", "holidays library"),
        ({"holidays": {"country": "FR", "subdivision": "99"}}, "care.hours.holidays.subdivision", "57"),
        ({"extra_holidays": ["24/12/2026"]}, "care.hours.extra_holidays[0]", "2026-12-24"),
        (
            {"closures": [{"from": "2026-12-26T09:00", "to": "2026-12-24T12:00"}]},
            "care.hours.closures[0].to",
            "must be after from",
        ),
        (
            {"closures": [{"from": "tomorrow", "to": "2026-12-24"}]},
            "care.hours.closures[0].from",
            "local date",
        ),
        ({"after_hours_tag": "after hours"}, "care.hours.after_hours_tag", "must be a tag"),
        ({"closure": []}, "care.hours.closure", "is not a known key"),
    ],
)
def test_bad_settings_name_their_key(raw: dict[str, Any], key: str, problem: str) -> None:
    base: dict[str, Any] = {"timezone": "Europe/Paris", "weekly": dict(WEEKDAYS_9_18)}
    with pytest.raises(ConfigError) as caught:
        OfficeHours.from_config({**base, **raw})
    assert caught.value.key == key
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"config: {key}: ")


# Properties, on a schedule with every kind of gap: nights, a lunch break, a short Saturday, an all-day
# Sunday (which crosses both clock changes), holidays and a closure across days.
TEAM = hours(
    weekly={
        **WEEKDAYS_9_18,
        "wed": ["09:00-12:00", "14:00-18:30"],
        "sat": ["09:00-12:00"],
        "sun": ["00:00-24:00"],
    },
    extra_holidays=["2026-08-14"],
    closures=[{"from": "2026-12-24T12:00", "to": "2026-12-28T10:30"}],
)
PROPERTIES = settings(max_examples=300, deadline=None, database=None, derandomize=bool(os.environ.get("CI")))
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
FRENCH_HOLIDAYS = holidays.country_holidays("FR")
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))


def expected_open(at: datetime) -> bool:
    """What a person reading the configuration would say, from the wall clock in Paris."""
    local = at.astimezone(PARIS)
    day = local.date()
    if day == date(2026, 8, 14) or day in FRENCH_HOLIDAYS:
        return False
    if paris(2026, 12, 24, 12, 0) <= at < paris(2026, 12, 28, 10, 30):
        return False
    minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6
    return any(first <= minute < last for first, last in TEAM.week[day.weekday()])


@PROPERTIES
@given(at=instants)
@example(at=datetime(2026, 3, 29, 1, 0, tzinfo=UTC))  # 03:00 in Paris, the hour after 01:59
@example(at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 in Paris, the first time
@example(at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 02:30 again
@example(at=datetime(2026, 10, 25, 22, 59, tzinfo=UTC))  # 23:59 on the 25-hour Sunday
def test_is_open_matches_the_wall_clock(at: datetime) -> None:
    assert TEAM.is_open(at) == expected_open(at)


@PROPERTIES
@given(at=instants)
@example(at=datetime(2026, 3, 28, 12, 0, tzinfo=UTC))  # Saturday 13:00, closed until the 23-hour Sunday
@example(at=datetime(2026, 12, 24, 11, 0, tzinfo=UTC))  # the closure's first minute
@example(at=datetime(2026, 10, 25, 0, 0, tzinfo=UTC))  # 02:00 in Paris, the hour that happens twice
def test_next_opening_is_open_and_nothing_before_it_is(at: datetime) -> None:
    reopening = TEAM.next_opening(at)
    assert reopening is not None and reopening >= at
    assert TEAM.is_open(reopening)
    assert TEAM.business_minutes(at, reopening) == 0
    if TEAM.is_open(at):
        # The same instant: compared as timestamps, since Python's == between time zones is always False
        # for a wall time that happens twice (PEP 495), 02:00 in Paris on the autumn night.
        assert reopening.timestamp() == at.timestamp()
    else:
        assert not TEAM.is_open(reopening - timedelta(microseconds=1))
        assert TEAM.closed_reason(at) is not None


@PROPERTIES
@given(start=instants, minutes=st.floats(min_value=0, max_value=6000, allow_nan=False))
def test_add_business_minutes_inverts_business_minutes(start: datetime, minutes: float) -> None:
    due = TEAM.add_business_minutes(start, minutes)
    assert due is not None and due >= start
    assert TEAM.business_minutes(start, due) == pytest.approx(minutes, abs=1e-4)
    if timedelta(minutes=minutes):  # the last open minute counted ends at `due`
        assert TEAM.is_open(due - timedelta(microseconds=1))


@PROPERTIES
@given(start=instants, first=durations, second=durations)
def test_business_minutes_add_up(start: datetime, first: timedelta, second: timedelta) -> None:
    middle, end = start + first, start + first + second
    whole = TEAM.business_minutes(start, end)
    assert whole == pytest.approx(TEAM.business_minutes(start, middle) + TEAM.business_minutes(middle, end))
    assert whole <= (end - start).total_seconds() / 60
    back = TEAM.add_business_minutes(start, whole)
    assert back is not None and back <= end
