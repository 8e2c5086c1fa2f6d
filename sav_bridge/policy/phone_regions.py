"""Where a text's phone numbers are read: the policy's `phone_region` first, then the regions the text
names ("UK", "Belgique", "Genève") and those its language suggests (GB and US for English, BE and CH for
French), each with a first look at its numbering plan (lengths, trunk prefix, country code) so that
phonenumbers is asked only about digits that could be one of its numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import phonenumbers

from sav_bridge.policy.probe import Probe
from sav_bridge.policy.terms import guess_language

# Regions a text names. Abbreviations in capitals only: "us" is a word.
REGION_NAMES = {
    "GB": ("UK", "U.K.", "United Kingdom", "Royaume-Uni", "England", "Angleterre", "London", "Londres",
           "Scotland", "Écosse", "Wales"),
    "US": ("US", "U.S.", "USA", "United States", "États-Unis", "Etats-Unis"),
    "CA": ("Canada", "Québec", "Quebec", "Montréal", "Montreal", "Toronto"),
    "BE": ("Belgique", "Belgium", "Bruxelles", "Brussels"),
    "CH": ("Suisse", "Switzerland", "Genève", "Geneva", "Lausanne", "Zurich"),
    "LU": ("Luxembourg",),
    "IE": ("Ireland", "Irlande", "Dublin"),
    "FR": ("France", "Paris"),
}  # fmt: skip
REGION_OF = {name: region for region, names in REGION_NAMES.items() for name in names}
REGION_WORD = re.compile(
    r"(?<!\w)(?:" + "|".join(re.escape(n) for n in sorted(REGION_OF, key=len, reverse=True)) + r")(?!\w)"
)
# The same names for one RE2 pass, without the word boundaries: most texts name no region at all.
ANY_REGION_NAME = Probe(
    "|".join("".join(c if c.isalnum() or c == " " else "\\" + c for c in name) for name in REGION_OF)
)
LANGUAGE_REGIONS = {"en": ("GB", "US"), "fr": ("FR", "BE", "CH")}
MAX_REGIONS = 4


@dataclass(frozen=True)
class Plan:
    """How a region's numbers written without + may look: a first look before phonenumbers reads them."""

    region: str
    #: Digits of a national number, with or without the trunk prefix.
    national: frozenset[int]
    #: The trunk prefix a national number starts with: a region the text only suggests is read only so
    #: where its plan writes one ("" for the policy's region, which phonenumbers' matcher judges).
    trunk: str
    code: str
    #: Digits of a number written country code first, without + or 00 ("33 6 12 34 56 78").
    with_code: frozenset[int]
    #: The international call prefix ("00", "011"), as phonenumbers writes it.
    exit: str

    def may_read(self, digits: str) -> bool:
        if len(digits) in self.national and digits.startswith(self.trunk):
            return True
        return len(digits) in self.with_code and digits.startswith(self.code)


@dataclass(frozen=True)
class Regions:
    """Where a text's numbers are read: the policy's region first, then those the text suggests."""

    plans: tuple[Plan, ...]
    #: How many digits a number written without + or 00 may have, in any of them.
    lengths: frozenset[int]
    #: The fewest digits of such a number: as many as the screen asks for.
    shortest: int


def regions_of(text: str, region: str) -> Regions:
    """The policy's region, then the regions the text names, then those of its language."""
    named = [REGION_OF[m.group(0)] for m in REGION_WORD.finditer(text)] if ANY_REGION_NAME(text) else []
    language = guess_language(text)
    suggested = dict.fromkeys([region, *named, *LANGUAGE_REGIONS.get(language or "", ())])
    return _regions(tuple(suggested)[:MAX_REGIONS])


@cache
def _regions(regions: tuple[str, ...]) -> Regions:
    plans = tuple(_plan(region, suggested=index > 0) for index, region in enumerate(regions))
    lengths = frozenset().union(*(plan.national | plan.with_code for plan in plans))
    return Regions(plans, lengths, shortest(regions[0]))


def _plan(region: str, suggested: bool) -> Plan:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return Plan(region, national_lengths(region), "", "", frozenset(), "")
    code = str(metadata.country_code)
    lengths = _usual_lengths(metadata) if suggested else national_lengths(region, trunk=False)
    trunk = metadata.national_prefix or ""
    written = any(
        (f.national_prefix_formatting_rule or "").startswith(trunk)
        and not f.national_prefix_optional_when_formatting
        for f in metadata.number_format
    )
    return Plan(
        region,
        national=frozenset({*lengths, *(n + len(trunk) for n in lengths)}),
        trunk=trunk if suggested and trunk and written else "",
        code=code,
        with_code=frozenset(n + len(code) for n in lengths),
        exit=metadata.international_prefix or "",
    )


def _usual_lengths(metadata: phonenumbers.PhoneMetadata) -> frozenset[int]:
    """The lengths of a region's numbers that people give out: not pagers, not voicemail access."""
    kinds = (
        "fixed_line",
        "mobile",
        "toll_free",
        "premium_rate",
        "shared_cost",
        "personal_number",
        "voip",
        "uan",
    )
    return frozenset(
        n for kind in kinds if (d := getattr(metadata, kind)) is not None for n in d.possible_length
    )


@cache
def national_lengths(region: str, trunk: bool = True) -> frozenset[int]:
    """How many digits a number written the national way may have: the numbering plan's lengths,
    with and without the trunk prefix ("06 12 34 56 78": nine digits after the 0)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    described = metadata.general_desc if metadata else None
    lengths = set(described.possible_length if described else range(7, 16))
    prefix = len(metadata.national_prefix or "") if metadata and trunk else 0
    return frozenset(lengths | {n + prefix for n in lengths})


def shortest(region: str) -> int:
    """The fewest digits of a number written without + in this region, never fewer than eight (a date,
    2026-11-24, has eight): nine in France. The screen asks for as many."""
    return max(8, min(national_lengths(region)))
