"""Personal data in a reply: payment cards, IBANs, French NIR, e-mail addresses, phone numbers.

Candidates are found with regular expressions on the PII view (no leet: O is not 0), then confirmed
by validators from python-stdnum (Luhn, IBAN mod 97 for every country, NIR key with Corsica 2A/2B)
and phonenumbers; card numbers must also fall in a current issuer range. Nothing is hand-rolled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

import phonenumbers
from stdnum import iban, luhn, numdb
from stdnum.fr import nir

from sav_bridge.policy.normalize import View, pii_view, pii_view_characters

KINDS = ("card", "iban", "nir", "email", "phone")
# Python's re here: our own fixed, linear patterns, and cheaper per call than RE2 on short texts.
# `\d` is any Unicode digit, so fullwidth or mathematical digits pass this first look too.
_SEVEN_DIGITS = re.compile(r"\d(?:\D{0,3}\d){6}")
_WORTH_A_LOOK = re.compile(rf"[@＠]|{_SEVEN_DIGITS.pattern}")
_NEEDS_VIEW = re.compile(pii_view_characters())
CARD = re.compile(r"(?<![\d\w])(?:\d[ \-./]?){11,18}\d(?![\d])")
IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ \-.]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")
NIR_CANDIDATE = re.compile(
    r"(?<![\d])[12][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2[ABab])[ .]?\d{3}[ .]?\d{3}[ .]?\d{2}(?![\d])"
)
# Local parts and domains may hold any letter ("théodore.gillet@…", internationalised addresses).
EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,24}(?![\w-])")
# Company and tax identifiers are Luhn-valid digit runs too: a number right after one is not a card or phone.
IDENTIFIER_BEFORE = re.compile(r"(?i)\b(?:siret|siren|rcs|tva|vat|n°\s*tva)\b[\s:°.n]*$")
# Worth asking phonenumbers (slow: ~100 µs a text) only about a run of 8+ digits that is not a date.
PHONE_SHAPE = re.compile(r"(?:\+|\b)\d(?:[\s.\-/()]{0,3}\d){7,}")
DIGIT_GROUP = re.compile(r"\d+")
DATE_SHAPE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
COMPACT = re.compile(r"[^0-9A-Za-z]")

# Issuer identification ranges in use (prefix ranges, inclusive) and allowed lengths.
ISSUERS: tuple[tuple[str, int, int, int, frozenset[int]], ...] = (
    ("visa", 4, 4, 1, frozenset({13, 16, 19})),
    ("mastercard", 51, 55, 2, frozenset({16})),
    ("mastercard", 2221, 2720, 4, frozenset({16})),
    ("amex", 34, 34, 2, frozenset({15})),
    ("amex", 37, 37, 2, frozenset({15})),
    ("discover", 6011, 6011, 4, frozenset(range(16, 20))),
    ("discover", 644, 649, 3, frozenset(range(16, 20))),
    ("discover", 65, 65, 2, frozenset(range(16, 20))),
    ("unionpay", 62, 62, 2, frozenset(range(16, 20))),
    # JCB's own range is 3528-3589; the rest of 35 is unassigned, and blocking it costs nothing.
    ("jcb", 35, 35, 2, frozenset(range(16, 20))),
    ("diners", 300, 305, 3, frozenset(range(14, 20))),
    ("diners", 36, 36, 2, frozenset(range(14, 20))),
    ("diners", 38, 39, 2, frozenset(range(14, 20))),
    ("maestro", 50, 50, 2, frozenset(range(12, 20))),
    ("maestro", 56, 58, 2, frozenset(range(12, 20))),
    ("maestro", 639, 639, 3, frozenset(range(12, 20))),
    ("maestro", 67, 67, 2, frozenset(range(12, 20))),
    ("mir", 2200, 2204, 4, frozenset(range(16, 20))),
)


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    value: str
    validators: dict[str, bool] = field(default_factory=dict)
    revealed_by: tuple[str, ...] = ()


def card_issuer(digits: str) -> str | None:
    for name, low, high, width, lengths in ISSUERS:
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return name
    return None


def find(text: str, kinds: frozenset[str], phone_region: str = "FR") -> list[PiiMatch]:
    """Every confirmed piece of personal data of the given kinds, with spans in `text`."""
    if _WORTH_A_LOOK.search(text) is None:
        return []  # most replies: no run of digits, no e-mail
    view: View | None = pii_view(text, track=True) if _NEEDS_VIEW.search(text) else None
    seen = view.text if view else text
    found: list[PiiMatch] = []
    if _SEVEN_DIGITS.search(seen):
        for finder, kind in ((_cards, "card"), (_ibans, "iban"), (_nirs, "nir")):
            if kind in kinds:
                found += finder(seen)
        if "phone" in kinds:
            found += _phones(seen, phone_region, [(m.start, m.end) for m in found])
        found = [m for m in found if m.kind not in ("card", "phone") or not _after_identifier(seen, m.start)]
    if "email" in kinds and "@" in seen:
        found += [PiiMatch("email", m.start(), m.end(), m.group(0)) for m in EMAIL.finditer(seen)]
    if view is None:
        return found
    return [_relocate(m, view) for m in found]


def _relocate(match: PiiMatch, view: View) -> PiiMatch:
    start, end = view.span(match.start, match.end)
    return PiiMatch(match.kind, start, end, match.value, match.validators, view.steps)


def _after_identifier(text: str, start: int) -> bool:
    return IDENTIFIER_BEFORE.search(text, max(0, start - 16), start) is not None


def _cards(text: str) -> Iterator[PiiMatch]:
    for m in CARD.finditer(text):
        digits = COMPACT.sub("", m.group(0))
        if not 12 <= len(digits) <= 19 or not luhn.is_valid(digits):
            continue
        issuer = card_issuer(digits)
        if issuer:
            yield PiiMatch("card", m.start(), m.end(), digits, {"luhn": True, f"issuer:{issuer}": True})


@cache
def iban_length(country: str) -> int | None:
    """How many characters an IBAN of this country has, from python-stdnum's registry."""
    info = numdb.get("iban").info(country.upper())[0][1]
    bban = info.get("bban")
    return 4 + sum(int(n) for n in re.findall(r"(\d+)!", bban)) if bban else None


def _ibans(text: str) -> Iterator[PiiMatch]:
    for m in IBAN_CANDIDATE.finditer(text):
        raw = m.group(0)
        length = iban_length(raw[:2])
        compact = COMPACT.sub("", raw).upper()
        # The pattern may run into a following word: the country says where the IBAN ends.
        if length is None or len(compact) < length or not iban.is_valid(compact[:length]):
            continue
        end = [i for i, c in enumerate(raw) if c.isalnum()][length - 1] + 1
        yield PiiMatch("iban", m.start(), m.start() + end, compact[:length], {"iban_mod97": True})


def _nirs(text: str) -> Iterator[PiiMatch]:
    for m in NIR_CANDIDATE.finditer(text):
        compact = COMPACT.sub("", m.group(0)).upper()
        if nir.is_valid(compact):
            yield PiiMatch("nir", m.start(), m.end(), compact, {"nir_key": True})


def _phones(text: str, region: str, taken: list[tuple[int, int]]) -> Iterator[PiiMatch]:
    """Phone numbers in each phone-shaped run of digits that is not a date: a number is a sequence of
    the run's digit groups that phonenumbers parses as a valid number, tried leftmost and longest
    first, so that one joined to a reference ("Réf 4521 06 12 34 56 78") or to another number is
    found too. Groups already part of a card, IBAN or NIR are left out."""
    lengths = national_lengths(region)
    for shape in PHONE_SHAPE.finditer(text):
        if DATE_SHAPE.fullmatch(shape.group(0)) or _after_identifier(text, shape.start()):
            continue
        groups = [m.span() for m in DIGIT_GROUP.finditer(text, shape.start(), shape.end())]
        free = [g for g in groups if not any(s < g[1] and g[0] < e for s, e in taken)]
        for segment in _contiguous(groups, free):
            yield from _numbers_in(text, segment, region, lengths, whole=segment == groups)


def _contiguous(
    groups: list[tuple[int, int]], free: list[tuple[int, int]]
) -> Iterator[list[tuple[int, int]]]:
    """Runs of free groups that follow each other in the shape (a taken group breaks a run)."""
    segment: list[tuple[int, int]] = []
    available = set(free)
    for group in groups:
        if group in available:
            segment.append(group)
        elif segment:
            yield segment
            segment = []
    if segment:
        yield segment


def _numbers_in(
    text: str, groups: list[tuple[int, int]], region: str, lengths: frozenset[int], whole: bool
) -> Iterator[PiiMatch]:
    """Numbers among these groups, leftmost first. One that is not the whole run must also be grouped
    as its plan writes numbers ("Réf 4521 06 12 34 56 78"), so that the middle of a NIR or a card
    with a typo ("… 05 78 006 084 …") is not taken for one."""
    first = 0
    while first < len(groups):
        found = _longest_number(text, groups, first, region, lengths, whole)
        if found is None:
            first += 1
        else:
            number, last = found
            yield number
            first = last + 1


def _longest_number(
    text: str, groups: list[tuple[int, int]], first: int, region: str, lengths: frozenset[int], whole: bool
) -> tuple[PiiMatch, int] | None:
    """The longest valid number starting at group `first`, with the index of its last group."""
    begin = groups[first][0]
    while begin > 0 and groups[first][0] - begin < 2 and text[begin - 1] in "(+":
        begin -= 1
    international = text.startswith(("+", "00"), begin)
    for last in range(len(groups) - 1, first - 1, -1):
        digits = sum(end - start for start, end in groups[first : last + 1])
        if not (8 <= digits <= 17 if international else digits in lengths):
            continue
        strict = not whole or first > 0 or last < len(groups) - 1
        number = _valid_number(text[begin : groups[last][1]], region, strict)
        if number is not None:
            return PiiMatch("phone", begin, groups[last][1], number, {"phonenumbers_valid": True}), last
    return None


def _valid_number(candidate: str, region: str, strict: bool) -> str | None:
    """The number in E.164 if phonenumbers finds it valid for the region (or its own + code) and
    written as one: its matcher's leniency rules (a French number needs its trunk 0, so the order
    number 300275006 is not one) are asked only once the cheap parse has said valid."""
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    leniency = phonenumbers.Leniency.STRICT_GROUPING if strict else phonenumbers.Leniency.VALID
    matches = phonenumbers.PhoneNumberMatcher(candidate, region, leniency=leniency)
    if not any(m.start == 0 and m.end == len(candidate) for m in matches):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@cache
def national_lengths(region: str) -> frozenset[int]:
    """How many digits a number written the national way may have: the numbering plan's lengths,
    with and without the trunk prefix ("06 12 34 56 78": nine digits after the 0)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    described = metadata.general_desc if metadata else None
    lengths = set(described.possible_length if described else range(7, 16))
    prefix = len(metadata.national_prefix or "") if metadata else 0
    return frozenset(lengths | {n + prefix for n in lengths})
