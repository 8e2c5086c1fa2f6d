"""The rules every plugin applies to care's updates: priorities only raised, tags added, unmapped names said once."""

from __future__ import annotations

import logging

import pytest

from sav_bridge.ticket_update import Mappings, raised, union

#: A helpdesk whose picklist has three values, urgent sharing the top one.
THREE = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}


@pytest.mark.parametrize(
    ("current", "wanted", "written"),
    [(None, "low", "Low"), ("", "high", "High"), ("Low", "high", "High"), ("Medium", "urgent", "High"),
     ("High", "urgent", None), ("High", "low", None), ("Medium", "normal", None),
     ("Critical", "urgent", None), ("Low", "unknown", None), ("Low", None, None)],
)  # fmt: skip
def test_a_priority_is_only_raised(current: str | None, wanted: str | None, written: str | None) -> None:
    assert raised(current, wanted, THREE) == written


def test_tags_keep_their_order_and_come_once() -> None:
    assert union(["a", "b", "a"], ["c", "b", "c"]) == ["a", "b", "c"]


def test_an_unmapped_name_is_said_once_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    maps = Mappings.from_section("acme", {"groups": {"cards": 7}}, {"group": "groups", "field": "fields"})
    with caplog.at_level(logging.WARNING, "sav_bridge.ticket_update"):
        found = [maps.get("group", name) for name in ("cards", "nowhere", "nowhere", None)]
        fields = maps.fields({"product": "cartes"})
    assert found == [7, None, None, None] and fields == {}
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "care: group 'nowhere' skipped on acme (no acme.groups entry)",
        "care: field 'product' skipped on acme (no acme.fields entry)",
    ]
