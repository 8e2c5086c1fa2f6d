"""Defensive readers for fields of X webhook bodies.

A body is signed by X, but its fields still come from the outside world: an id may arrive as a number,
an object or non-ASCII digits ('²', '١٢٣'), a name as an object, a timestamp out of range, a text with
NUL characters or lone surrogates that no database accepts. Required fields raise `MalformedRequest`;
optional ones fall back to a neutral value, so whatever is stored is a shape every later step accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sav_bridge.errors import MalformedRequest

#: X ids are unsigned 64-bit integers written in ASCII decimal: at most 19 digits in practice.
_ID = re.compile(r"[0-9]{1,19}")


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (for optional sub-objects)."""
    return value if isinstance(value, dict) else {}


def items(value: Any, name: str) -> Iterator[Any]:
    """The items of a required JSON array."""
    if not isinstance(value, list):
        raise MalformedRequest(f"{name} must be a list")
    return iter(value)


def optional_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def required_id(value: Any, name: str) -> str:
    """A numeric id in its string form (`id_str`); numbers, objects and non-ASCII digits are refused."""
    if isinstance(value, str) and _ID.fullmatch(value):
        return value
    raise MalformedRequest(f"{name} must be a string of 1 to 19 ASCII digits")


def optional_id(value: Any) -> str | None:
    """An id when the field holds a valid one, else None (a reference we cannot follow is no reference)."""
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def text(value: Any) -> str:
    """A string safe to store anywhere: no NUL (PostgreSQL refuses it), no lone surrogate (not UTF-8)."""
    if not isinstance(value, str):
        return ""
    cleaned = value.replace("\x00", "")
    try:
        cleaned.encode("utf-8")
    except UnicodeEncodeError:
        cleaned = cleaned.encode("utf-8", "replace").decode("utf-8")
    return cleaned


def optional_text(value: Any) -> str | None:
    return text(value) or None


def followers(user: dict[str, Any]) -> int | None:
    """How many follow the account: `followers_count` (Account Activity) or `public_metrics.followers_count`
    (X API v2, when the expansion asked for it); None when absent or not a sane count."""
    value = user.get("followers_count", obj(user.get("public_metrics")).get("followers_count"))
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return value
    return None


#: Account Activity's `created_at` as X writes it, read without `strptime` (9 µs a message, most of it
#: looking up the locale's names): what does not match goes to `strptime`, which decides.
_V1_TIME = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) \+0000 ([0-9]{4})"
)
_MONTHS = {
    name: n
    for n, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}


def v1_time(value: Any) -> str:
    """Account Activity's `created_at` ("Wed Oct 10 20:19:24 +0000 2018") as ISO-8601 UTC, or ''."""
    if not isinstance(value, str):
        return ""
    try:
        if match := _V1_TIME.fullmatch(value):
            month, day, hour, minute, second, year = match.groups()
            moment = datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
            return moment.isoformat()
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return ""


def v2_time(value: Any) -> str:
    """X API v2's ISO-8601 `created_at`, normalised to UTC, or '' when it is not a time."""
    if not isinstance(value, str):
        return ""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return ""


def epoch_ms(value: Any) -> str:
    """A DM's `created_timestamp` (milliseconds since 1970, as a string) as ISO-8601 UTC, or ''."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return ""
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return ""
