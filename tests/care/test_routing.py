"""Routing rules: which team gets a ticket, why, and what a rule that continues may add."""

from __future__ import annotations

from typing import Any

import pytest

from sav_bridge.care.routing import Routing
from sav_bridge.errors import ConfigError
from sav_bridge.model import TicketUpdate

RULES: list[dict[str, Any]] = [
    {
        "name": "vip",
        "when": {"customer_tags": ["vip", "press"]},
        "then": {"priority": "high", "tags": ["vip"], "assignee": "claire@mabanque.fr"},
        "continue": True,
    },
    {
        "name": "cartes",
        "when": {"language": "fr", "words": ["carte bloquée", "opposition"], "channel": ["mention", "dm"]},
        "then": {"group": "cards", "tags": ["cartes"], "priority": "normal", "fields": {"product": "cards"}},
    },
    {
        "name": "cards",
        "when": {"patterns": [r"(?i)\bcard\s+(?:blocked|lost|stolen)"]},
        "then": {"group": "cards", "tags": ["cards"], "assignee": "bob"},
    },
    {"name": "second brand", "when": {"account": [2222, "3333"]}, "then": {"brand": "mabanque-pro"}},
    {"name": "le reste", "when": {}, "then": {"group": "general"}},
]
ROUTING = Routing.from_config(RULES)


def test_carte_bloquee_goes_to_the_cards_group_and_says_why() -> None:
    routed = ROUTING.route("Ma CARTE bloquee depuis hier", "fr", "mention", "1111")
    assert routed.update == TicketUpdate(
        group="cards", tags=("cartes",), priority="normal", fields={"product": "cards"}
    )
    assert routed.matched == (("cartes", "language fr; words: 'CARTE bloquee'; channel mention"),)


def test_the_first_matching_rule_wins() -> None:
    routed = ROUTING.route("Ma carte bloquée", "fr", "reply", "1111")  # cartes wants mention or dm
    assert routed.matched == (("le reste", "always (when: {})"),)
    assert routed.update == TicketUpdate(group="general")


def test_a_rule_that_continues_lets_later_ones_add_but_not_override() -> None:
    routed = ROUTING.route("My card blocked again", "en", "dm", "1111", customer_tags=["press"])
    assert [name for name, _ in routed.matched] == ["vip", "cards"]
    assert routed.matched[0][1] == "customer tags: press"
    assert routed.matched[1][1] == r"pattern /(?i)\bcard\s+(?:blocked|lost|stolen)/ found 'card blocked'"
    # the earlier assignee stays, tags add up, the highest priority stands
    assert routed.update == TicketUpdate(
        priority="high", tags=("vip", "cards"), group="cards", assignee="claire@mabanque.fr"
    )
    lower = ROUTING.route("Ma carte bloquée", "fr", "dm", "1111", customer_tags=["vip"])
    assert lower.update.priority == "high"  # cartes says normal: never lower than an earlier rule


def test_account_ids_may_be_written_as_numbers() -> None:
    assert ROUTING.route("hello", "en", "dm", "2222").matched == (("second brand", "account 2222"),)


def test_no_rules_route_nothing() -> None:
    routed = Routing.from_config(None).route("Ma carte bloquée", "fr", "dm", "1")
    assert (routed.update, routed.matched) == (TicketUpdate(), ())
    assert not routed.update


def test_words_are_whole_words() -> None:
    routing = Routing.from_config([{"when": {"words": ["ufc"]}, "then": {"tags": ["ufc"]}}])
    assert routing.route("ufcx", "fr", "dm", "1").matched == ()
    assert routing.route("J'écris à l'UFC", "fr", "dm", "1").matched == (("routing[0]", "words: 'UFC'"),)


@pytest.mark.parametrize(
    ("rules", "key"),
    [
        ("cards", "care.routing"),
        ([{"then": {}}], "care.routing[0].when"),
        ([{"when": {}}], "care.routing[0].then"),
        ([{"when": None, "then": {}}], "care.routing[0].when"),
        (
            [RULES[4], {"when": {"patterns": ["ok", "(unclosed"]}, "then": {}}],
            "care.routing[1].when.patterns[1]",
        ),
        (
            [RULES[4], RULES[4], {"when": {"patterns": [r"(a)\1"]}, "then": {}}],
            "care.routing[2].when.patterns[0]",
        ),
        ([{"when": {"word": ["x"]}, "then": {}}], "care.routing[0].when.word"),
        ([{"when": {"channel": ["dm", "email"]}, "then": {}}], "care.routing[0].when.channel[1]"),
        ([{"when": {"language": "de"}, "then": {}}], "care.routing[0].when.language"),
        ([{"when": {}, "then": {"priority": "critical"}}], "care.routing[0].then.priority"),
        ([{"when": {}, "then": {"queue": "cards"}}], "care.routing[0].then.queue"),
        ([{"when": {}, "then": {"fields": {"product": ["a"]}}}], "care.routing[0].then.fields.product"),
        ([{"when": {}, "then": {}, "continue": "yes"}], "care.routing[0].continue"),
        ([{"when": {"words": []}, "then": {}}], "care.routing[0].when.words"),
    ],
)
def test_a_bad_rule_names_its_place(rules: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Routing.from_config(rules)
    assert caught.value.key == key
