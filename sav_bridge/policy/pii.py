"""Personal data in a reply: payment cards, IBANs, French NIR, e-mail addresses, phone numbers.

Candidates are found with regular expressions on the PII view (no leet: O is not 0), then confirmed
by validators from python-stdnum (Luhn, IBAN mod 97 for every country, NIR key with Corsica 2A/2B)
and phonenumbers (`phones`); card numbers must also fall in a current issuer range. Nothing is
hand-rolled. Cards, IBANs and NIRs are found first: a phone number is never read in their digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

from stdnum import iban, luhn, numdb
from stdnum.fr import nir
from stdnum.iso7064 import mod_97_10

from sav_bridge.policy import phones
from sav_bridge.policy.normalize import View, pii_view, pii_view_characters

KINDS = ("card", "iban", "nir", "email", "phone")
# Python's re here: our own fixed, linear patterns, and cheaper per call than RE2 on short texts.
# `\d` is any Unicode digit, so fullwidth or mathematical digits pass this first look too.
_SEVEN_DIGITS = re.compile(r"\d(?:\D{0,3}\d){6}")
_NEEDS_VIEW = re.compile(pii_view_characters())
# Between digits: a space of any kind (no-break spaces as French typography puts them, a line break too).
# Each pattern starts with what it consumes first, its look-behind after it ("(?<![\d\w]\d)" is
# "(?<![\d\w])" before that digit): `re` then skips to the next digit in C instead of trying the
# look-behind at every position (a third to half of the time on a tweet).
CARD = re.compile(r"\d(?<![\d\w]\d)[\s\-./]?(?:\d[\s\-./]?){10,17}\d(?!\d)")
IBAN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[\s\-.]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")
NIR_CANDIDATE = re.compile(
    r"[12](?<!\d[12])[\s.]?\d{2}[\s.]?\d{2}[\s.]?(?:\d{2}|2[ABab])[\s.]?\d{3}[\s.]?\d{3}[\s.]?\d{2}(?!\d)"
)
# Local parts and domains may hold any letter ("théodore.gillet@…", internationalised addresses).
EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,24}(?![\w-])")
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


@dataclass(slots=True)  # made for every candidate: a frozen dataclass's __init__ costs 3x
class PiiMatch:
    kind: str
    start: int
    end: int
    value: str
    validators: dict[str, bool] = field(default_factory=dict)
    revealed_by: tuple[str, ...] = ()


# The ranges of each length, in the order of ISSUERS.
_ISSUERS_BY_LENGTH = {
    length: tuple(
        (name, low, high, width) for name, low, high, width, lengths in ISSUERS if length in lengths
    )
    for length in range(12, 20)
}


def card_issuer(digits: str) -> str | None:
    for name, low, high, width in _ISSUERS_BY_LENGTH.get(len(digits), ()):
        if low <= int(digits[:width]) <= high:
            return name
    return None


def find(
    text: str,
    kinds: frozenset[str],
    phone_region: str = "FR",
    service_numbers: frozenset[str] = frozenset(),
    plain: bool = False,
) -> list[PiiMatch]:
    """Every confirmed piece of personal data of the given kinds, with spans in `text`. Phone numbers
    whose E.164 form is one of `service_numbers` (the brand's own, `phones.service_key`) are not.
    `plain`: the caller knows the text holds no character the PII view changes (the screen said so)."""
    digits = _SEVEN_DIGITS.search(text) is not None
    if not digits and "@" not in text and "＠" not in text:
        return []  # most replies: no run of digits, no e-mail
    # What the PII view changes is never ASCII: most texts are their own view.
    view: View | None = (
        None if plain or text.isascii() or not _NEEDS_VIEW.search(text) else pii_view(text, track=True)
    )
    seen = view.text if view else text
    found: list[PiiMatch] = []
    if digits if view is None else _SEVEN_DIGITS.search(seen):
        if "card" in kinds:
            found += _cards(seen)
        if "iban" in kinds:
            found += _ibans(seen)
        if "nir" in kinds:
            found += _nirs(seen)
        if found and ("card" in kinds or "nir" in kinds):
            # An IBAN (mod 97, its country's length) holds digit runs that pass Luhn: they are its own.
            ibans = [
                (m.start, m.end) for m in (found if "iban" in kinds else _ibans(seen)) if m.kind == "iban"
            ]
            if ibans:
                found = [
                    m
                    for m in found
                    if m.kind == "iban" or not any(s < m.end and m.start < e for s, e in ibans)
                ]
        if "phone" in kinds:
            taken = [(m.start, m.end) for m in found]
            found += [
                PiiMatch("phone", p.start, p.end, p.number, p.validators)
                for p in phones.find(seen, phone_region, taken)
                if p.number not in service_numbers
            ]
        if found:
            found = [
                m
                for m in found
                if m.kind not in ("card", "phone") or not phones.after_identifier(seen, m.start)
            ]
    if "email" in kinds and "@" in seen:
        found += [PiiMatch("email", m.start(), m.end(), m.group(0)) for m in EMAIL.finditer(seen)]
    if view is None:
        return found
    return [_relocate(m, view) for m in found]


def _relocate(match: PiiMatch, view: View) -> PiiMatch:
    start, end = view.span(match.start, match.end)
    return PiiMatch(match.kind, start, end, match.value, match.validators, view.steps)


def _cards(text: str) -> Iterator[PiiMatch]:
    for m in CARD.finditer(text):
        digits = COMPACT.sub("", m.group(0))
        if not 12 <= len(digits) <= 19:
            continue
        # The issuer first (most long runs of digits have none); `luhn.checksum` is what
        # `luhn.is_valid` asks, without its checks of the input: these are digits.
        issuer = card_issuer(digits)
        if issuer and luhn.checksum(digits) == 0:
            yield PiiMatch("card", m.start(), m.end(), digits, {"luhn": True, f"issuer:{issuer}": True})


@cache
def iban_length(country: str) -> int | None:
    """How many characters an IBAN of this country has, from python-stdnum's registry."""
    info = numdb.get("iban").info(country.upper())[0][1]
    bban = info.get("bban")
    return 4 + sum(int(n) for n in re.findall(r"(\d+)!", bban)) if bban else None


@cache
def _bban_shape(country: str) -> re.Pattern[str] | None:
    """What python-stdnum's registry says the rest of an IBAN of this country looks like."""
    info = numdb.get("iban").info(country)[0][1]
    return iban._struct_to_re(info.get("bban", "")) if info else None


def valid_iban(number: str) -> bool:
    """`stdnum.iban.is_valid` for a compact, upper-case ASCII IBAN: its own checks in its own order
    (mod 97, the country's BBAN structure, the country's module), without compacting the number
    again and looking the country up in its registry at every call (half its cost). Private parts of
    python-stdnum, pinned by requirements.lock; tests compare it with `is_valid`."""
    if not mod_97_10.is_valid(number[4:] + number[:4]):
        return False
    shape = _bban_shape(number[:2])
    if shape is None or not shape.match(number[4:]):
        return False
    module = iban._get_cc_module(number[:2])
    return module is None or bool(module.is_valid(number))


def _ibans(text: str) -> Iterator[PiiMatch]:
    for m in IBAN_CANDIDATE.finditer(text):
        raw = m.group(0)
        length = iban_length(raw[:2])
        compact = COMPACT.sub("", raw).upper()
        # The pattern may run into a following word: the country says where the IBAN ends.
        if length is None or len(compact) < length or not valid_iban(compact[:length]):
            continue
        end = [i for i, c in enumerate(raw) if c.isalnum()][length - 1] + 1
        yield PiiMatch("iban", m.start(), m.start() + end, compact[:length], {"iban_mod97": True})


def _nirs(text: str) -> Iterator[PiiMatch]:
    for m in NIR_CANDIDATE.finditer(text):
        compact = COMPACT.sub("", m.group(0)).upper()
        if nir.is_valid(compact):
            yield PiiMatch("nir", m.start(), m.end(), compact, {"nir_key": True})
