"""Reading the `care` subsections mood and routing parse themselves: each error names the key, never the value.

The configuration schema checks the same shapes at start-up; these checks also hold for a section handed
in from elsewhere (the console, a test, `sav-bridge care check`), and give the full path of what is wrong
(`care.routing[2].when.patterns[0]`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sav_bridge.errors import ConfigError

#: The customer languages care reads and writes, and the channels a message comes by.
LANGUAGES = ("fr", "en")
CHANNELS = ("mention", "reply", "dm")


def section(value: Any, key: str, known: Collection[str]) -> Mapping[str, Any]:
    """A mapping with only `known` keys; None is an empty one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(key, "must be a mapping")
    for name in value:
        if name not in known:
            raise ConfigError(f"{key}.{name}", f"unknown key (known: {', '.join(known)})")
    return value


def text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, "must be a non-empty string")
    return value


def texts(value: Any, key: str, one_allowed: bool = False) -> tuple[str, ...]:
    """A list of non-empty strings (or, when `one_allowed`, a single string)."""
    if one_allowed and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(key, "must be a non-empty list of strings")
    return tuple(text(item, f"{key}[{i}]") for i, item in enumerate(value))


def choices(value: Any, key: str, allowed: Collection[str]) -> tuple[str, ...]:
    """One of `allowed`, or a list of them."""
    chosen = texts(value, key, one_allowed=True)
    for i, item in enumerate(chosen):
        if item not in allowed:
            where = key if isinstance(value, str) else f"{key}[{i}]"
            raise ConfigError(where, f"must be one of {', '.join(allowed)}")
    return chosen


def number(value: Any, key: str, minimum: float, integer: bool = False) -> float:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum:
        raise ConfigError(key, f"must be {'an integer' if integer else 'a number'} of at least {minimum:g}")
    return float(value)
