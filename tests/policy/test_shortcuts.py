"""The engine's shortcuts on dense text decide exactly what the full reading decides: a whole phone
candidate is checked with phonenumbers' matcher's own verification rather than its search for numbers
inside it (a dozen more readings); an IBAN with python-stdnum's own checks, its registry read once per
country. Each test runs both ways on the same input."""

from __future__ import annotations

from collections.abc import Iterator

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban

from bench.policy_quality import load_rows
from sav_bridge.policy import phones, pii
from tests.policy.test_robustness import random_texts


def _matcher_search(
    candidate: str, region: str, leniency: int, number: phonenumbers.PhoneNumber | None = None
) -> bool:
    """What `_matched` answered before: the matcher's full search over the candidate (which parses it
    itself: `number`, the caller's parse, is not used)."""
    matches = phonenumbers.PhoneNumberMatcher(candidate, region, leniency=leniency)
    return any(m.start == 0 and m.end == len(candidate) for m in matches)


def _full_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phones, "_matched", _matcher_search)


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


# Countries python-stdnum checks further (BE, ES, ME, NO), others, and ones it does not know (ZZ, US).
COUNTRIES = ["FR", "DE", "ES", "GB", "IT", "NL", "BE", "NO", "ME", "PT", "PL", "AT", "CH", "XK", "ZZ", "US"]


@st.composite
def ibans(draw: st.DrawFn) -> str:
    """A valid IBAN of a country python-stdnum knows (its check digits worked out by stdnum), then
    perhaps a character changed, one more or one less: compact and in capitals, as `pii` asks."""
    country = draw(st.sampled_from(COUNTRIES))
    length = pii.iban_length(country) or draw(st.integers(15, 34))
    bban = draw(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=length - 4, max_size=length - 4))
    if draw(st.booleans()):
        bban = "".join(draw(st.sampled_from("0123456789")) if c.isalpha() else c for c in bban)
    number = country + iban.calc_check_digits(country + "00" + bban) + bban
    edit = draw(st.sampled_from(["", "", "change", "longer", "shorter"]))
    at = draw(st.integers(0, len(number) - 1))
    character = draw(st.sampled_from("0123456789ABCZ"))
    if edit == "change":
        number = number[:at] + character + number[at + 1 :]
    elif edit == "longer":
        number += character
    elif edit == "shorter":
        number = number[:-1]
    return number


@settings(max_examples=2000, deadline=None)
@given(number=ibans())
def test_the_iban_shortcut_is_stdnums_check(number: str) -> None:
    assert pii.valid_iban(number) == iban.is_valid(number), number


def test_the_iban_shortcut_on_the_evaluation_set() -> None:
    candidates = {
        pii.COMPACT.sub("", m.group(0)).upper()
        for text in evaluation_texts()
        for m in pii.IBAN_CANDIDATE.finditer(text)
    }
    assert len(candidates) > 200
    assert [n for n in candidates if pii.valid_iban(n) != iban.is_valid(n)] == []
