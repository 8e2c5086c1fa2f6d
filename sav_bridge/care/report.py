"""`sav-bridge care report`: how fast the team answered, from care's memory of each conversation.

Median and 90th percentile of the first response (wall-clock minutes, and business minutes under
`care.hours`), the share of conversations answered within the hour and within 24 hours, those still
unanswered, and the public conversations moved to DM.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sav_bridge.care.hours import OfficeHours
from sav_bridge.store.care import CareConversation


@dataclass(frozen=True)
class Report:
    since: str
    until: str
    conversations: int
    answered: int
    unanswered: int
    median_minutes: float | None
    p90_minutes: float | None
    median_business_minutes: float | None
    p90_business_minutes: float | None
    within_hour: float | None
    within_day: float | None
    public: int
    moved_to_dm: int

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    def table(self) -> str:
        rows = [
            ("period", f"{self.since} → {self.until}"),
            ("conversations", str(self.conversations)),
            ("answered / unanswered", f"{self.answered} / {self.unanswered}"),
            ("first response, median", _minutes(self.median_minutes)),
            ("first response, 90th percentile", _minutes(self.p90_minutes)),
            ("  in business hours: median", _minutes(self.median_business_minutes)),
            ("  in business hours: 90th percentile", _minutes(self.p90_business_minutes)),
            ("answered within the hour", _share(self.within_hour)),
            ("answered within 24 hours", _share(self.within_day)),
            ("public conversations moved to DM", f"{self.moved_to_dm} of {self.public}"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def build(
    conversations: Sequence[CareConversation], hours: OfficeHours, since: float, until: float
) -> Report:
    """The report over conversations opened in [since, until); shares are over every conversation,
    the unanswered ones counting as not answered in time."""
    answered = [c for c in conversations if c.first_response_at is not None]
    waits = [(c.first_response_at - c.opened_at) / 60 for c in answered if c.first_response_at is not None]
    business = [
        hours.business_minutes(_at(c.opened_at), _at(c.first_response_at))
        for c in answered
        if c.first_response_at is not None
    ]
    total = len(conversations)
    public = [c for c in conversations if c.public]
    return Report(
        since=_day(since),
        until=_day(until),
        conversations=total,
        answered=len(answered),
        unanswered=total - len(answered),
        median_minutes=_median(waits),
        p90_minutes=_p90(waits),
        median_business_minutes=_median(business),
        p90_business_minutes=_p90(business),
        within_hour=sum(w <= 60 for w in waits) / total if total else None,
        within_day=sum(w <= 24 * 60 for w in waits) / total if total else None,
        public=len(public),
        moved_to_dm=sum(c.moved_to_dm for c in public),
    )


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=10, method="inclusive")[-1], 1)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _day(epoch: float) -> str:
    return _at(epoch).strftime("%Y-%m-%d %H:%M UTC")


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g} min" if value < 120 else f"{value / 60:.1f} h ({value:g} min)"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"
