"""One RE2 pass that tells whether a reply needs a closer look at all.

Most replies hold no personal data and no listed term; for them the whole decision is this single
native call. The screen is built from the policy itself and errs on the side of looking: it matches
every term with any accents and any repeated letters, every shape a disguise takes (look-alike or
invisible characters, leet, spaced letters, masks), every run of seven digits, every e-mail shape,
and every custom pattern. Whatever it lets through, the detailed detectors cannot find either
(`tests/policy/test_screen.py` holds it to that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache

import re2

from sav_bridge.policy.masking import MASK
from sav_bridge.policy.normalize import (
    char_class,
    hiding_characters,
    pii_view_characters,
    space_codes,
    term_table,
    zero_width_codes,
)
from sav_bridge.policy.phone_regions import shortest
from sav_bridge.policy.probe import set_matcher
from sav_bridge.policy.terms import Term, disguise_shapes, plain_fold

DISGUISE = "disguise"
TERM = "term"
CONTEXT = "context"  # the words an insult aimed at someone starts with: "you", "espèce de"
PERSONAL = "personal"
NOTHING: frozenset[str] = frozenset()
MAX_LOOKS = 4096

# Lookaround-free supersets of what `pii` looks for. Phone numbers depend on the region
# (`phone_shape`); `\d` is ASCII in RE2, so digits written in other forms (fullwidth, mathematical,
# circled) are a family of their own, `personal:*`, that asks for every kind.
SEPARATOR = char_class([*space_codes(), *zero_width_codes(), *map(ord, ".-/()")]) + "{0,3}"
# Between the words of a phrase: any white space (no-break included), hyphen, apostrophe, dot.
WORD_GAP = char_class([*space_codes(), *map(ord, "-'’_.")]) + "+"
PERSONAL_DATA = {
    "card": rf"\d(?:{SEPARATOR}\d){{11}}",
    "nir": rf"\d(?:{SEPARATOR}\d){{11}}|[12]{SEPARATOR}\d\d{SEPARATOR}\d\d{SEPARATOR}2[ab]",
    "iban": rf"[a-z]{{2}}\d\d(?:{SEPARATOR}[a-z0-9]){{11}}",
    # Around the @, a letter, digit or sign an address may hold: never the mask, so that a masked
    # address ("•••••@•••••.fr", checked again after redaction) is not looked at twice.
    "email": rf"[^\s@{MASK}]@[^\s@{MASK}][^\s@]*\.",
}
# Only Latin letters and digits count as letters here: cheaper to compile than \pL by a hundred
# times, and what it gets wrong (a Cyrillic letter taken for a boundary) only makes the screen look more.
LATIN_LETTER = r"a-z\x{c0}-\x{24f}"
LETTER = LATIN_LETTER + "0-9"
NOT_A_LETTER_BEFORE = rf"(?:^|[^{LETTER}])"
NOT_A_LETTER_AFTER = rf"(?:[^{LETTER}]|$)"


@cache
def accented_variants() -> dict[str, str]:
    """For each ASCII letter, every Latin letter that folds to it ("e" → "eéèêë…")."""
    variants: dict[str, str] = {}
    for code, folded in term_table().items():
        if code < 0x250 and folded.isascii() and folded.isalpha():
            variants[folded] = variants.get(folded, folded) + chr(code).lower()
    return variants


def phone_shape(region: str) -> str:
    """Runs of digits that may be a phone number: eight or more after a plus sign (as `pii` asks),
    else as many as `phone_regions.shortest` asks of a number without + (nine in France: a date, 2026-11-24,
    has eight), whatever other region the text suggests."""
    national = shortest(region)
    return rf"\+\d(?:{SEPARATOR}\d){{7}}|\d(?:{SEPARATOR}\d){{{national - 1}}}"


def reference_pattern(words: Iterable[str], connectors: Iterable[str]) -> str:
    """A `reference` detector's context words (any case, any accent, a plural or feminine ending), then
    nothing but punctuation, connectors and context words up to an identifier with a digit."""
    variants = accented_variants()

    def alternatives(phrases: Iterable[str]) -> str:
        found = []
        for phrase in sorted({plain_fold(p) for p in phrases}):
            parts = []
            for char in phrase:
                if char.isalpha() and char in variants:
                    parts.append(f"[{re.escape(''.join(sorted(set(variants[char]))))}]")
                elif char.isspace():
                    parts.append("[^0-9a-z]+")
                else:
                    parts.append(re.escape(char))
            found.append("".join(parts))
        return "|".join(found)

    e, s = (f"[{re.escape(''.join(sorted(set(variants[c]))))}]" for c in "es")
    ending = f"(?:{e}?{s}|{e})?"
    # (A mask is no connector: a reference masked but its last digits is not looked at again.)
    gap = f"(?:[^0-9a-z{MASK}]|(?:{alternatives((*words, *connectors))}){ending})*"
    return f"(?:{alternatives(words)}){ending}{gap}[a-z0-9._/-]*[0-9]"


def term_pattern(term: Term) -> str:
    """A term as RE2: any case, any accent, any repetition of each letter, its word boundaries."""
    variants = accented_variants()
    parts = []
    for char in plain_fold(term.text):
        if char.isalpha() and char in variants:
            parts.append(f"[{re.escape(''.join(sorted(set(variants[char]))))}]+")
        elif char.isspace() or char in "-'’":
            parts.append(WORD_GAP)
        else:
            parts.append(re.escape(char))
    body = "".join(parts)
    left = "" if term.match == "substring" else NOT_A_LETTER_BEFORE
    right = NOT_A_LETTER_AFTER if term.match in ("word", "clause") else ""
    return f"{left}{body}{right}"


def aimed_patterns(prefixes_by_word: dict[str, set[str]]) -> Iterator[str]:
    """Each word after any of its prefixes ("you" or "what a", then "tool"; `*` for any word), one
    pattern per set of prefixes: a superset of the expanded phrases, a few dozen patterns instead of
    thousands."""
    by_prefixes: dict[frozenset[str], list[str]] = {}
    for word, starts in prefixes_by_word.items():
        by_prefixes.setdefault(frozenset(starts), []).append(word)
    for prefixes, found in by_prefixes.items():
        before = "|".join(
            sorted(term_pattern(Term(p, "", "", "", "prefix"))[len(NOT_A_LETTER_BEFORE) :] for p in prefixes)
        )
        after = "|".join(
            sorted(
                f"[{LATIN_LETTER}]+"  # an open slot ("espèce de {*}"): any word
                if w == "*"
                else term_pattern(Term(w, "", "", "", "prefix"))[len(NOT_A_LETTER_BEFORE) :]
                for w in found
            )
        )
        yield f"{NOT_A_LETTER_BEFORE}(?:{before}){WORD_GAP}(?:{after}){NOT_A_LETTER_AFTER}"


class Screen:
    """A compiled RE2 set; `look(text)` names what is worth looking for, empty when nothing is."""

    def __init__(
        self,
        terms: Iterable[Term],
        patterns: Iterable[str],
        phone_region: str = "FR",
        references: Iterable[str] = (),
    ) -> None:
        options = re2.Options()
        options.case_sensitive = False
        options.never_capture = True
        options.max_mem = 64 << 20
        self._set = re2.Set.SearchSet(options)
        # Terms that count in one language only ("retard" in English) are their own family, so that a
        # French apology for a delay is not looked at twice.
        words: dict[str, set[str]] = {}
        aimed: dict[str, set[str]] = {}
        for term in terms:
            if term.context:  # "you …", "espèce de …": the phrases are too many for the set
                prefixes, word = term.context.split("\t")
                aimed.setdefault(word, set()).update(prefixes.split("|"))
                continue
            reason = f"{TERM}:{term.lang}" if term.scope == "lang" else TERM
            words.setdefault(reason, set()).add(term_pattern(term))
        if aimed:
            words[CONTEXT] = set(aimed_patterns(aimed))
        self._reasons: list[str] = []
        # Look-alikes are matched case-sensitively: the Kelvin sign must not stand for every "k".
        families = [(DISGUISE, f"(?-i:{hiding_characters()})")]
        families += [(DISGUISE, p) for p in disguise_shapes(LATIN_LETTER)]
        personal = {
            **PERSONAL_DATA,
            "phone": phone_shape(phone_region),
            "*": f"(?-i:{pii_view_characters()})",
        }
        families += [(f"{PERSONAL}:{kind}", pattern) for kind, pattern in personal.items()]
        families += [(reason, "|".join(sorted(ws))) for reason, ws in sorted(words.items())]
        families += [(pattern_reason(i), p) for i, p in enumerate(patterns)]
        families += [(reference_reason(i), p) for i, p in enumerate(references)]
        for reason, pattern in families:
            self._set.Add(pattern)
            self._reasons.append(reason)
        self._set.Compile()
        self._match = set_matcher(self._set)
        self.everything = frozenset(self._reasons)
        self._looks: dict[tuple[int, ...], frozenset[str]] = {}

    def look(self, text: str) -> frozenset[str]:
        """`disguise`, `term`, `term:<lang>` (a term of that language only), `personal:<kind>` (or
        `personal:*`, any kind), `pattern:<n>` (the n-th custom pattern) and `reference:<n>` (the n-th
        `reference` detector), as the text warrants."""
        matched = self._match(text)
        if not matched:
            return NOTHING
        key = tuple(matched)
        look = self._looks.get(key)
        if look is None:
            look = frozenset(self._reasons[i] for i in matched)
            if len(self._looks) < MAX_LOOKS:  # a few dozen kinds in practice
                self._looks[key] = look
        return look


def pattern_reason(index: int) -> str:
    """The reason `look` gives when the `index`-th custom pattern matched."""
    return f"pattern:{index}"


def reference_reason(index: int) -> str:
    """The reason `look` gives when a context word of the `index`-th `reference` detector has a digit after it."""
    return f"reference:{index}"


def personal_kinds(look: frozenset[str], kinds: frozenset[str]) -> frozenset[str]:
    """Of these PII kinds, those whose shape the screen saw (all of them for `personal:*`)."""
    if f"{PERSONAL}:*" in look:
        return kinds
    return kinds & {reason.partition(":")[2] for reason in look if reason.startswith(f"{PERSONAL}:")}


def written_plainly(look: frozenset[str]) -> bool:
    """Whether the screen saw no character the PII view changes (digits or letters in other forms,
    invisible characters): the text is then its own PII view."""
    return f"{PERSONAL}:*" not in look


def term_languages(look: frozenset[str]) -> frozenset[str]:
    """The languages of the one-language terms the screen saw ("retard" counts only in English)."""
    return frozenset(reason.partition(":")[2] for reason in look if reason.startswith(f"{TERM}:"))
