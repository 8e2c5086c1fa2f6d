"""Phone numbers as people write them, confirmed by phonenumbers.

A phone-shaped run of digits (eight or more, with spaces, dots, dashes, slashes, parentheses or a line
break between them) is cut into its digit groups; sequences of groups, leftmost and longest first, are
read by phonenumbers in the regions the text may be about (`phone_regions`: the policy's `phone_region`
first, then those the text names or its language suggests). A sequence is a phone number when
phonenumbers finds it

- valid, and written as one (its matcher's Leniency.VALID; STRICT_GROUPING inside a longer run, so that
  the middle of a NIR is not one). A region the text only suggests must also see it grouped ("020 7946
  0958", not "02079460958") or near a word that says phone ("call", "tél.");
- valid in a French overseas region when read in France ("0692 12 34 56", "+33 692 12 34 56"): one
  numbering plan, several regions in phonenumbers;
- possible but not valid (a new or reserved range: "07 00 12 34 56", "+44 7700 900123"), when it is
  written the way its plan writes numbers, trunk prefix included, or with its +country code, or near a
  word that says phone.

Not phone numbers: a date with its year ("2026-11-24", "24/11/2026") or a range of years; an amount
(a currency next to the run); a version ("version 10.0.19045"); a VAT number after its country letters
("FR 33 732829320"); a number right after "SIRET", "SIREN", "RCS" or "TVA"; a run written in one piece
right after an order or reference label ("commande 0612345678"). Cards, IBANs and NIRs are found first,
by `pii`: their digits are never read as a phone number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

import phonenumbers
from phonenumbers import (
    CountryCodeSource,
    Leniency,
    PhoneNumber,
    PhoneNumberFormat,
    ValidationResult,
    phonenumbermatcher,
)
from stdnum.eu import vat

from sav_bridge.policy.phone_regions import Regions, regions_of

# Company and tax identifiers are Luhn-valid digit runs too: a number right after one is not a card or phone.
IDENTIFIER_BEFORE = re.compile(r"(?i)\b(?:siret|siren|rcs|tva|vat|n°\s*tva)\b[\s:°.n]*$")
IDENTIFIER_WORDS = ("siret", "siren", "rcs", "tva", "vat")  # one of them is in each match of it
# Worth asking phonenumbers (~50 µs a reading) only about a run of 8+ digits, not glued to a word or to
# a number with a decimal point ("v10.0.19045.3803", "3,14159265").
# (Its look-behinds come after the first digit, "\b" as "(?<!\w\d)": `re` then skips to the next digit
# or plus sign in C instead of trying them at every position.)
PHONE_SHAPE = re.compile(r"(?:\+\d|\d(?<!\w\d)(?<!\d[.,]\d))(?:[\s.\-/()]{0,3}\d){7,}")
DIGIT_GROUP = re.compile(r"\d+")
# Never part of a number: a date with a four-digit year, a range of years.
DATE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)|(?<!\d)\d{1,2}[-/.]\d{1,2}[-/.]\d{4}"
    r"|(?<!\d)(?:19|20)\d\d ?[-/] ?(?:19|20)\d\d(?!\d)"
)
CURRENCY_BEFORE = re.compile(r"(?i)(?:[€$£]|\b(?:eur|usd|gbp|chf))\s?$")
CURRENCY_AFTER = re.compile(r"(?i)(?:[.,]\d{1,2})?\s?(?:[€$£]|(?:eur|euros?|usd|gbp|chf|dollars?|pounds?)\b)")
VERSION_BEFORE = re.compile(r"(?i)\b(?:version|build|release|firmware|ver\.?|v)\s?$")
COUNTRY_LETTERS_BEFORE = re.compile(r"(?<![A-Za-z])([A-Z]{2}) ?$")
REFERENCE_BEFORE = re.compile(
    r"(?i)\b(?:commande|order|r[ée]f(?:[ée]rence)?|reference|facture|invoice|dossier|ticket|suivi|tracking"
    r"|colis|parcel|contrat|contract|client|customer|compte|account|transaction|cmd)\b\W{0,4}"
    r"(?:(?:n[°o]|num(?:[ée]ro)?|#)\.?\s?)?$"
)
PHONE_WORDS = re.compile(
    r"(?i)(?<!\w)(?:t[ée]l(?:[ée]phone)?|telephone|phone|portable|mobile|cell|fixe|gsm|fax|hotline|standard"
    r"|(?:r?app?el|call|ring|joind|joign|whats\s?app|sms|texto|contact)\w*)(?!\w)"
)
# What may stand before the first digit: "+33", "(+33)", "+ 33", "(01)".
LEAD = re.compile(r"(?:\(\s?\+|\+\s?\(|[+(])\s?$")
CUE_WINDOW = 40
# One numbering plan, several country codes: the French overseas departments (Réunion and Mayotte 262,
# Guadeloupe, Saint-Barthélemy and Saint-Martin 590, Guyane 594, Martinique 596, Saint-Pierre-et-Miquelon
# 508) are dialled from France with the trunk 0 ("0692 12 34 56"), and often written with +33.
FRENCH_PLAN = (33, 262, 590, 594, 596, 508)
SHARED_PLANS: dict[int, tuple[int, ...]] = {code: FRENCH_PLAN for code in FRENCH_PLAN}


@dataclass(slots=True)  # made for every candidate: a frozen dataclass's __init__ costs 3x
class Phone:
    """A phone number found in a text: its span and its E.164 form."""

    start: int
    end: int
    number: str
    validators: dict[str, bool]


@dataclass(slots=True)  # made for every candidate: a frozen dataclass's __init__ costs 3x
class Written:
    """A candidate as written: its text for phonenumbers and what surrounds it."""

    text: str
    digits: str
    groups: int
    international: bool  # with + or an international call prefix (00, 011)
    plus: bool
    cue: bool  # a word that says phone just before it
    strict: bool  # part of a longer run: grouped as its plan writes numbers
    labelled: bool  # right after an order or reference label: grouped exactly as its plan writes numbers


def find(text: str, region: str, taken: list[tuple[int, int]]) -> Iterator[Phone]:
    """Phone numbers in `text` outside the `taken` spans (cards, IBANs, NIRs found first)."""
    regions: Regions | None = None
    for shape in PHONE_SHAPE.finditer(text):
        if taken and any(s <= shape.start() and shape.end() <= e for s, e in taken):
            continue  # a card's, an IBAN's or a NIR's digits: no group of it is free
        groups = [m.span() for m in DIGIT_GROUP.finditer(text, shape.start(), shape.end())]
        dates = [m.span() for m in DATE.finditer(text, shape.start(), shape.end())]
        blocked = taken + dates
        free = (
            [g for g in groups if not any(s < g[1] and g[0] < e for s, e in blocked)] if blocked else groups
        )
        if sum(end - start for start, end in free) < 8:
            continue  # a date, or what a card or an IBAN left
        if _not_a_phone(text, shape):
            continue
        regions = regions or regions_of(text, region)
        for segment in _contiguous(groups, free):
            yield from _numbers_in(text, segment, regions, whole=segment == groups)


def after_identifier(text: str, start: int) -> bool:
    """Whether `start` is right after "SIRET", "SIREN", "RCS", "TVA" or "VAT": a company's number."""
    before = text[max(0, start - 16) : start]
    if before.isascii() and not any(word in before.lower() for word in IDENTIFIER_WORDS):
        return False  # what the pattern needs is not there (outside ASCII, case folding has more to it)
    return IDENTIFIER_BEFORE.search(text, max(0, start - 16), start) is not None


def _not_a_phone(text: str, shape: re.Match[str]) -> bool:
    start, end = shape.span()
    if after_identifier(text, start):
        return True
    before = text[max(0, start - 10) : start]
    if CURRENCY_BEFORE.search(before) or VERSION_BEFORE.search(before) or CURRENCY_AFTER.match(text, end):
        return True
    letters = COUNTRY_LETTERS_BEFORE.search(before)
    return letters is not None and vat.is_valid(
        letters.group(1) + "".join(DIGIT_GROUP.findall(shape.group(0)))
    )


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


def _numbers_in(text: str, groups: list[tuple[int, int]], regions: Regions, whole: bool) -> Iterator[Phone]:
    """Numbers among these groups, leftmost first, each the longest that starts at its group."""
    first = 0
    while first < len(groups):
        found = _longest_number(text, groups, first, regions, whole)
        if found is None:
            first += 1
        else:
            number, last = found
            yield number
            first = last + 1


def _longest_number(
    text: str, groups: list[tuple[int, int]], first: int, regions: Regions, whole: bool
) -> tuple[Phone, int] | None:
    """The longest number starting at group `first`, with the index of its last group."""
    start = groups[first][0]
    lead = LEAD.search(text, max(0, start - 3), start)
    plus = lead is not None and "+" in lead.group(0)
    international = plus or text.startswith(("00", "011"), start)
    labelled: bool | None = None
    cue: bool | None = None
    ends = list(accumulate(end - begin for begin, end in groups[first:]))
    for last in range(len(groups) - 1, first - 1, -1):
        count = ends[last - first]
        if international:
            if not 8 <= count <= 18:
                continue
        elif count not in regions.lengths or count < regions.shortest:
            continue
        if labelled is None:
            labelled = REFERENCE_BEFORE.search(text, max(0, start - 24), start) is not None
        if last == first and labelled and not plus:
            continue  # "commande 0612345678": a reference, not grouped as a phone number
        end = groups[last][1]
        begin = lead.start() if lead and (plus or ")" in text[start:end]) else start
        if cue is None:
            cue = PHONE_WORDS.search(text, max(0, start - 3 - CUE_WINDOW), start) is not None
        strict = not whole or first > 0 or last < len(groups) - 1
        written = Written(
            _clean(text[begin:end]),
            "".join(text[b:e] for b, e in groups[first : last + 1]),
            last - first + 1,
            international,
            plus,
            cue,
            strict,
            labelled,
        )
        found = _confirm(written, regions)
        if found is not None:
            number, validators = found
            return Phone(begin, end, number, validators), last
    return None


def _clean(candidate: str) -> str:
    """The candidate as phonenumbers reads it: one space for any white space (a line break), and a
    slash as a space ("01/23/45/67/89": dates were taken out before)."""
    return " ".join(candidate.replace("/", " ").split())


def _confirm(written: Written, regions: Regions) -> tuple[str, dict[str, bool]] | None:
    """The number in E.164 and what confirmed it: a valid reading in any region first (the policy's
    region, then the others in turn), else a possible one."""
    readings: list[tuple[str, PhoneNumber, bool]] = []
    leniency = Leniency.STRICT_GROUPING if written.strict else Leniency.VALID
    if written.labelled and not written.plus:
        leniency = Leniency.EXACT_GROUPING
    exits: set[str] = set()
    for plan in regions.plans[:1] if written.plus else regions.plans:
        region = plan.region
        guessed = plan is not regions.plans[0] and not written.international
        if written.international:
            if plan.exit in exits:
                continue  # read the same way as in a region already tried
            exits.add(plan.exit)
        elif not plan.may_read(written.digits):
            continue
        elif guessed and written.groups == 1 and not written.cue:
            continue  # digits in one piece: only the policy's region reads them
        try:
            number = phonenumbers.parse(written.text, region, keep_raw_input=True)
        except phonenumbers.NumberParseException:
            continue
        if not number.national_number:
            continue  # "00 00 00 00 00"
        national = number.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY
        if not phonenumbers.is_valid_number(number):
            readings.append((region, number, national))
        elif (not guessed and _matched(written.text, region, leniency, number)) or (
            guessed and _suggested_region_reads(written, number, region)
        ):
            return _e164(number), {"phonenumbers_valid": True}
    for region, number, national in readings:
        if phonenumbers.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE:
            continue
        home = _in_shared_plan(number)
        if home is not None:
            home_region = phonenumbers.region_code_for_number(home) or region
            if (
                _matched(written.text, home_region, leniency)
                if national
                else _marked(written, number, valid=True)
            ):
                return _e164(home), {"phonenumbers_valid": True, f"region:{home_region}": True}
        elif _written_as_planned(written, number, national) and _matched(
            written.text, region, Leniency.POSSIBLE, number
        ):
            return _e164(number), {"phonenumbers_possible": True}
    return None


def _matched(candidate: str, region: str, leniency: int, number: PhoneNumber | None = None) -> bool:
    """Whether phonenumbers' matcher, at this leniency, takes the whole candidate for one number: it
    knows how numbers are written (a French number needs its trunk 0, so the order number 300275006
    is not one), and it is asked only once the cheap parse has said yes.

    The matcher's own check of a whole candidate, without its search for numbers inside it (a dozen
    more readings, none of which can span the whole candidate): private, pinned by requirements.lock,
    and compared with the matcher's search by tests. `number` is the candidate as `parse(candidate,
    region, keep_raw_input=True)` reads it, when the caller has it (the matcher would parse it again);
    above POSSIBLE, the caller has found it valid."""
    if phonenumbermatcher._SLASH_SEPARATED_DATES.search(candidate):
        return False
    matcher = phonenumbers.PhoneNumberMatcher(candidate, region, leniency=leniency)
    if number is None:
        match = matcher._parse_and_verify(candidate, 0)
        return match is not None and match.start == 0 and match.end == len(candidate)
    # `_parse_and_verify` with the parse done: its checks of the candidate's form, then `_verify`
    # (at offset 0 of a text that is the candidate, it looks at no character around it).
    brackets = phonenumbermatcher._MATCHING_BRACKETS
    if not brackets.fullmatch(candidate) or phonenumbermatcher._PUB_PAGES.search(candidate):
        return False
    try:
        if leniency == Leniency.POSSIBLE:
            return phonenumbermatcher._verify(leniency, number, candidate, matcher)
        return _verify_valid(leniency, number, candidate, matcher)
    except phonenumbers.NumberParseException:
        return False


def _verify_valid(
    leniency: int, number: PhoneNumber, candidate: str, matcher: phonenumbers.PhoneNumberMatcher
) -> bool:
    """phonenumbers' `_verify` at VALID, STRICT_GROUPING or EXACT_GROUPING for a number that
    `is_valid_number` has already accepted: the same checks in the same order, but that one (it
    reads the number against each of its region's number types: a third of a phone's cost)."""
    if not phonenumbermatcher._contains_only_valid_x_chars(number, candidate):
        return False
    if leniency == Leniency.VALID:
        return phonenumbermatcher._is_national_prefix_present_if_required(number)
    if phonenumbermatcher._contains_more_than_one_slash_in_national_number(
        number, candidate
    ) or not phonenumbermatcher._is_national_prefix_present_if_required(number):
        return False
    grouped = (
        phonenumbermatcher._all_number_groups_remain_grouped
        if leniency == Leniency.STRICT_GROUPING
        else phonenumbermatcher._all_number_groups_are_exactly_present
    )
    return matcher._check_number_grouping_is_valid(number, candidate, grouped)


def _in_shared_plan(number: PhoneNumber) -> PhoneNumber | None:
    """The valid number with the same national digits under another country code of its plan, if any."""
    for code in SHARED_PLANS.get(number.country_code or 0, ()):
        if code != number.country_code:
            other = PhoneNumber(country_code=code, national_number=number.national_number)
            if phonenumbers.is_valid_number(other):
                return other
    return None


def _marked(written: Written, number: PhoneNumber, valid: bool = False) -> bool:
    """A number with its country code, written so that it reads as one: with +, or after a word that
    says phone, or grouped as its plan writes it (in groups, for a number valid in a region of its plan).
    Inside a longer run, only its grouping says so."""
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    if written.strict:
        return _grouped_like(written.text, formatted)
    if written.plus or written.cue:
        return True
    return written.groups > 1 if valid else _grouped_like(written.text, formatted)


def _written_as_planned(written: Written, number: PhoneNumber, national: bool) -> bool:
    """A possible number written as its plan writes valid ones: grouped the same way (the trunk prefix
    too, "07 00 12 34 56"), or with its country code as `_marked` says."""
    if not national:
        return _marked(written, number)
    expected = DIGIT_GROUP.findall(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
    seen = DIGIT_GROUP.findall(written.text)
    if len(expected) < 2 or "".join(seen) != "".join(expected):
        return False  # no format of the plan fits it, or its trunk prefix is missing
    return seen == expected or (written.cue and not written.strict)


def _suggested_region_reads(written: Written, number: PhoneNumber, region: str) -> bool:
    """A valid number of a region the text only suggests: grouped exactly as its plan writes numbers
    (a cheap look at the last groups first, then the matcher's EXACT_GROUPING), or in one piece right
    after a word that says phone ("call 4155552671")."""
    if written.groups == 1:
        return written.cue and _matched(written.text, region, Leniency.VALID, number)
    formatted = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return _grouped_like(written.text, formatted) and _matched(
        written.text, region, Leniency.EXACT_GROUPING, number
    )


def _grouped_like(candidate: str, formatted: str) -> bool:
    """The same digit groups as the formatted number, but for the first (a country code may be written
    with 00, or a trunk prefix in parentheses)."""
    expected = DIGIT_GROUP.findall(formatted)
    seen = DIGIT_GROUP.findall(candidate)
    return len(expected) >= 2 and len(seen) >= len(expected) and seen[1 - len(expected) :] == expected[1:]


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def service_key(value: str, region: str) -> str:
    """How a configured service number is compared with those found: E.164 (the overseas region's when
    it is one), else its digits (a short number such as 3639)."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return "".join(DIGIT_GROUP.findall(value))
    if phonenumbers.is_valid_number(number):
        return _e164(number)
    home = _in_shared_plan(number)
    if home is not None:
        return _e164(home)
    if phonenumbers.is_possible_number(number):
        return _e164(number)
    return "".join(DIGIT_GROUP.findall(value))


def service_number_problem(value: str, region: str) -> str:
    """Why a configured service number is not one phonenumbers can read in the region, or ""."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return f"{value!r} is not a phone number"
    if phonenumbers.is_possible_number(number) or phonenumbers.is_possible_short_number_for_region(
        number, region
    ):
        return ""
    return f"{value!r} is neither a phone number nor a short number in region {region}"
