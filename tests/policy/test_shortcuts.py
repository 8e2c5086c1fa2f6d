"""The engine's shortcuts on dense text decide exactly what the full reading decides.

Phones: digits that lack the trunk prefix their plan writes are not handed to phonenumbers, and a whole
candidate is checked with the matcher's own verification rather than its search for numbers inside it.
Terms: a text whose term view holds nothing term-like is not viewed again with its spans. Each test
runs the engine both ways on the same texts."""

from __future__ import annotations

from collections.abc import Iterator

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.policy_quality import load_rows
from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience
from sav_bridge.policy import Policy, phones
from sav_bridge.policy import terms as terms_module
from tests.policy.test_robustness import random_texts


def _matcher_search(candidate: str, region: str, leniency: int) -> bool:
    """What `_matched` answered before: the matcher's full search over the candidate."""
    matches = phonenumbers.PhoneNumberMatcher(candidate, region, leniency=leniency)
    return any(m.start == 0 and m.end == len(candidate) for m in matches)


def _full_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phones, "_matched", _matcher_search)
    monkeypatch.setattr(phones, "trunk_missing", lambda digits, region: False)


def _both_ways(text: str, region: str) -> tuple[list[phones.Phone], list[phones.Phone]]:
    fast = list(phones.find(text, region, []))
    with pytest.MonkeyPatch.context() as patched:
        _full_reading(patched)
        full = list(phones.find(text, region, []))
    return fast, full


GROUP = st.text("0123456789", min_size=1, max_size=4)
SEPARATOR = st.sampled_from([" ", ".", "-", "", " - ", "\n", ") ", " ("])
LEAD = st.sampled_from(["", "+", "00", "(+", "tél. ", "call ", "commande "])
REGIONS = ["FR", "GB", "US", "BE", "CH", "DE", "RE", "GP", "PM"]
KINDS = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
FORMATS = [phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL]


@st.composite
def random_groups(draw: st.DrawFn) -> str:
    groups = draw(st.lists(GROUP, min_size=2, max_size=7))
    text = groups[0]
    for group in groups[1:]:
        text += draw(SEPARATOR) + group
    return draw(LEAD) + text


@st.composite
def real_numbers(draw: st.DrawFn) -> str:
    """A region's example number, a digit or two changed, written the national or international way,
    with or without its +, its trunk prefix or its spaces."""
    example = phonenumbers.example_number_for_type(
        draw(st.sampled_from(REGIONS)), draw(st.sampled_from(KINDS))
    )
    assert example is not None
    digits = list(str(example.national_number))
    for _ in range(draw(st.integers(0, 2))):
        digits[draw(st.integers(0, len(digits) - 1))] = draw(st.sampled_from("0123456789"))
    number = phonenumbers.PhoneNumber(country_code=example.country_code, national_number=int("".join(digits)))
    text = phonenumbers.format_number(number, draw(st.sampled_from(FORMATS)))
    text = draw(st.sampled_from([text, text.lstrip("+"), text.replace(" ", ""), text.lstrip("0")]))
    return text.replace(" ", draw(SEPARATOR))


@st.composite
def phone_shaped(draw: st.DrawFn) -> str:
    number = draw(st.one_of(random_groups(), real_numbers()))
    return draw(st.sampled_from(["", "Appelez le ", "Our number: ", "UK ", "commande "])) + number


@settings(max_examples=400, deadline=None)
@given(text=phone_shaped(), region=st.sampled_from(REGIONS))
def test_phone_shortcuts_find_what_the_full_reading_finds(text: str, region: str) -> None:
    fast, full = _both_ways(text, region)
    assert fast == full, text


def evaluation_texts() -> Iterator[str]:
    yield from (row["text"] for row in load_rows())
    yield from random_texts(400, seed=11)


def test_phone_shortcuts_on_the_evaluation_set() -> None:
    differences = [
        (text, region)
        for text in evaluation_texts()
        for region in ("FR", "GB")
        if (pair := _both_ways(text, region))[0] != pair[1]
    ]
    assert differences == []


def test_the_term_shortcut_changes_no_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = Policy.from_file(POLICY_DIR / "default.yaml")
    texts = list(evaluation_texts())
    fast = [policy.decide(text, Audience.PUBLIC) for text in texts]
    lexicon_class = type(policy.lexicon)
    monkeypatch.setattr(lexicon_class, "_may_hold", lambda self, view: True)
    full = [policy.decide(text, Audience.PUBLIC) for text in texts]
    assert [t for t, a, b in zip(texts, fast, full, strict=True) if a != b] == []


def test_the_term_shortcut_is_taken_on_dense_text_without_terms() -> None:
    """Not a no-op: texts full of digits and nothing term-like skip the second view."""
    policy = Policy.from_file(POLICY_DIR / "default.yaml")
    view = terms_module.term_view("Pouvez-vous confirmer FR76 3000 6000 0112 3456 7890 189 ? Merci !")
    assert not policy.lexicon._may_hold(view)
    assert policy.lexicon._may_hold(terms_module.term_view("Quelle m3rde ce colis"))
