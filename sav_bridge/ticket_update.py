"""What every helpdesk plugin needs to apply care's `TicketUpdate` the same way.

Care speaks logical names (a group "cards", a field "product"); each plugin maps them to its helpdesk's ids
in its own configuration section. A name with no mapping is skipped with one log line per name and plugin,
never a failure: a routing rule written before the helpdesk side was set up must not hold the ticket back.
A priority is only ever raised: each plugin reads the ticket's current one when an update carries a
priority and writes only a higher level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sav_bridge.model import PRIORITY_LEVELS

log = logging.getLogger(__name__)


class Mappings:
    """A plugin's maps from logical names to vendor ids, by kind ("group", "field"…), read once."""

    def __init__(self, plugin: str, maps: Mapping[str, Mapping[str, Any]], keys: Mapping[str, str]) -> None:
        """`maps`: kind → {logical name → vendor id}; `keys`: kind → the section key that holds it (for logs)."""
        self.plugin = plugin
        self._maps = {kind: dict(found) for kind, found in maps.items()}
        self._keys = dict(keys)
        self._told: set[tuple[str, str]] = set()

    @classmethod
    def from_section(cls, plugin: str, section: Mapping[str, Any], keys: Mapping[str, str]) -> Mappings:
        """The maps named by `keys` (kind → section key) in the plugin's configuration section; absent = {}."""
        return cls(plugin, {kind: section.get(key) or {} for kind, key in keys.items()}, keys)

    def get(self, kind: str, name: str | None) -> Any | None:
        """The vendor id of `name`; None (said once in the log) when the section maps no such name."""
        if name is None:
            return None
        found = self._maps.get(kind, {}).get(name)
        if found is None:
            self.skipped(kind, name, f"no {self.plugin}.{self._keys.get(kind, kind)} entry")
        return found

    def fields(self, values: Mapping[str, str]) -> dict[Any, str]:
        """Logical field name → value, as vendor field id → value; unmapped fields skipped."""
        out = {}
        for name, value in values.items():
            vendor = self.get("field", name)
            if vendor is not None:
                out[vendor] = value
        return out

    def skipped(self, kind: str, name: str, why: str) -> None:
        """Say once per name why a part of an update is left out."""
        if (kind, name) in self._told:
            return
        self._told.add((kind, name))
        log.warning("care: %s %r skipped on %s (%s)", kind, name, self.plugin, why)


def rank(level: str | None) -> int:
    """The position of a care priority level (-1 for none or an unknown word)."""
    return PRIORITY_LEVELS.index(level) if level in PRIORITY_LEVELS else -1


def level_of(value: Any, levels: Mapping[str, Any]) -> str | None:
    """The highest care level the plugin maps to the vendor's `value` (None: the vendor's own word)."""
    found = [level for level, vendor in levels.items() if vendor == value and level in PRIORITY_LEVELS]
    return max(found, key=rank) if found else None


def raised(current: Any, wanted: str | None, levels: Mapping[str, Any]) -> Any | None:
    """The vendor priority to write so the ticket reaches `wanted`, or None when it must stay as it is.

    `current` is the ticket's vendor value (None or "" when unset: any level raises it). A value the plugin
    maps to no level (an org's own "Critical") is left alone, since it may rank above anything care asks.
    """
    if wanted is None or wanted not in levels:
        return None
    target = levels[wanted]
    if current in (None, ""):
        return target
    if current == target:
        return None
    have = level_of(current, levels)
    if have is None or rank(wanted) <= rank(have):
        return None
    return target


def union(current: Iterable[str], added: Iterable[str]) -> list[str]:
    """`current` followed by the tags of `added` it lacks, in order, each once."""
    out = list(dict.fromkeys(current))
    out += [tag for tag in dict.fromkeys(added) if tag not in out]
    return out
