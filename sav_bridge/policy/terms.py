"""Vulgar, sexual and insulting terms, in French and English, found even when disguised.

Fast path, for ordinary text: lower-case, fold Latin accents (1:1), and if one re2 scan sees nothing
suspicious (other scripts, zero-width characters, leet, spaced letters, letter runs, masks), a single
Aho-Corasick pass. Otherwise the full normalisation of `normalize.term_view` runs, with offsets, and a
second automaton whose entries are folded the same way. Masks ("f*ck", "m*rde") are matched against
the single-word entries of the same shape.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources

import ahocorasick
import re2

from sav_bridge.policy import contexts
from sav_bridge.policy.normalize import (
    CONSONANT,
    MASK_WORD,
    SOFT_MASK_WORD,
    View,
    char_class,
    fold_term,
    hiding_characters,
    space_codes,
    term_steps,
    term_table,
    term_view,
    within_spaced,
)
from sav_bridge.policy.probe import Probe, set_matcher
from sav_bridge.policy.signs import EMOJI, anchor, disguised_words, spells

LATIN_END = 0x250
MASK_IN_RUN = re.compile(r"([a-z])[*#]+\1+")
TITLE = re.compile(r"\b(?:m|mr|mrs|ms|mme|mlle|dr|me|pr)\.?\s*$", re.IGNORECASE)  # "M. D***": a name


# What may stand between letters written one by one: any white space (line breaks and no-break spaces
# included: the term view turns them into spaces first), dots, dashes, slashes, bullets.
_GAP = char_class([*space_codes(), *map(ord, "._-/\\·•")]) + "+"


def disguise_shapes(letters: str = "a-z") -> tuple[str, ...]:
    """Shapes a disguised term takes, for a class of letters (`screen` passes accented ones too, as
    it reads text whose accents are not folded yet)."""
    letter, edge = f"[{letters}]", f"[^{letters}0-9]"  # a digit ends no word: "à 18 h" is not spaced
    unit, gap = f"[{letters}013457@$!|€*#]", _GAP
    run = "(?:" + "|".join(f"{c}+" for c in "abcdefghijklmnopqrstuvwxyz") + f"|{letter})"
    last = f"(?:{run}|{unit})"
    return (
        # leet in words: not "journée!" (punctuation), nor "ES70 …" (an IBAN, digits in a number)
        # and not an e-mail address: "s@lope" is leet, "claire@gmail.com" is not
        rf"{letter}[013457$!|€]+{letter}|{letter}@{letter}+(?:$|[^.{letters}]|\.(?:\s|$))"
        rf"|[013457$!|€]{letter}{{2}}|{letter}{{2}}[013457$€]+(?:$|[^0-9\s]|\s+(?:[^0-9\s]|$))"
        rf"|[013457$!|€]{letter}[013457$€]",  # one letter among leet characters: "7w47"
        # letters written one by one, some of them leet or masked
        # (the last may be stretched: "p i ss"; RE2 has no back-references, so each run is spelt out)
        rf"(?:^|{edge})(?:{letter}{gap}{unit}{gap}{last}|{unit}{gap}{letter}{gap}{last}|{unit}{gap}{unit}{gap}{run})(?:{edge}|$)",
        rf"{letter}[*#]|\*{letter}",  # masks ("#word" is a hashtag)
        # a short word with one letter hidden by another sign, or an "x" between consonants ("fxck")
        rf"(?:^|[^{letters}0-9.\-]){letter}{{1,4}}[.\-_%?^+~•]{letter}{{1,4}}(?:$|[^{letters}0-9*#.\-])"
        rf"|[{CONSONANT}]x[{CONSONANT}]",
        # digits for letters after one letter ("b173"), or after "!" ("sh!7"); not "A320" nor "FR76"
        rf"(?:^|[^{letters}0-9]){letter}[013457$€]{{2,}}(?:$|[^{letters}0-9])|{letter}{{2}}[!|]+[013457$€]",
        "|".join(c * 3 for c in "abcdefghijklmnopqrstuvwxyz"),  # letter runs
        # signs for any letter inside a word ("sa%%pard", "ni_u_r"), not in a handle ("@jdoe_uk")
        rf"(?:^|[^{letters}0-9@#_])[{letters}0-9]*{letter}[%^&?~+_]+{letter}",
        rf"{letter}[{EMOJI}]+{letter}",  # an emoji for a letter ("f🤬ck")
    )


# Anything that may hide a term sends the text down the full normalisation; one RE2 scan decides.
# Phrases split by white space other than one plain space (RE2's \s is ASCII: list them all).
_OTHER_SPACE = char_class([c for c in space_codes() if c != ord(" ")])
SUSPICIOUS = Probe("|".join((hiding_characters(), *disguise_shapes(), rf"\s\s|{_OTHER_SPACE}")))
WORDS = re.compile(r"[a-z]+")
# A word written letter by letter ("b i t e") is not a run of English "a" and "i".
LETTER_BY_LETTER = re.compile(r"(?<![a-z])(?:[a-z][ .]){2,}[a-z](?![a-z])")
_FR_STOPWORDS = "le la les un une des du de et est vous nous votre vos notre nos pour pas que qui dans sur avec ce cette je tu il elle merci bonjour"
_EN_STOPWORDS = "the a an and is are you we your our for not that who in on with this i he she it thanks thank hello hi please"
STOPWORDS = {"fr": frozenset(_FR_STOPWORDS.split()), "en": frozenset(_EN_STOPWORDS.split())}


@dataclass(frozen=True, slots=True)  # ~11,000 of them live as long as the process
class Term:
    """One lexicon entry. `allow` lists phrases in which it is innocent ("cul-de-sac")."""

    text: str
    lang: str
    category: str
    severity: str
    match: str = "word"
    scope: str = "any"
    allow: tuple[str, ...] = ()
    rule: str | None = None  # set for a policy's own `extra` terms: only that rule reports them
    #: For a term expanded from `contexts.tsv`, the words before its first slot and the word in it,
    #: tab-separated ("espèce de\tvache"): the screen looks for all such pairs of a list in one pattern.
    context: str = ""


@dataclass(slots=True)  # made for every candidate: a frozen dataclass's __init__ costs 3x
class TermMatch:
    term: Term
    start: int
    end: int
    revealed_by: tuple[str, ...]


@cache
def latin_fold() -> str:
    """A `str.translate` table (indexed by code point) folding case-less Latin accents 1:1."""
    table = term_table()
    return "".join(table.get(code, chr(code)) for code in range(LATIN_END))


# One decision folds its text several times (the language guess, references, allow rules, term
# matches); the last few are kept so that it is folded once.
@lru_cache(maxsize=16)
def plain_fold(text: str) -> str:
    """Lower case and Latin accents folded, one character for one: offsets stay valid."""
    low = text.lower()
    if low.isascii():
        return low  # the fold leaves lower-case ASCII as it is
    return (low if len(low) == len(text) else text).translate(latin_fold())


def load_terms(lines: Iterable[str]) -> list[Term]:
    """Parse `terms.tsv`: term, lang, category, severity, match, scope[, allow phrases separated by |]."""
    terms = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        columns = line.rstrip("\n").split("\t")
        if len(columns) not in (6, 7):
            raise ValueError(f"terms.tsv line {number}: expected 6 or 7 tab-separated columns")
        text, lang, category, severity, match, scope = columns[:6]
        allow = tuple(plain_fold(a) for a in columns[6].split("|")) if len(columns) == 7 else ()
        # The columns repeat a handful of values over thousands of rows: one string each.
        intern = sys.intern
        terms.append(
            Term(text, intern(lang), intern(category), intern(severity), intern(match), intern(scope), allow)
        )
    return terms


@cache
def builtin_terms() -> tuple[Term, ...]:
    data = resources.files("sav_bridge.policy").joinpath("data/terms.tsv").read_text("utf-8")
    aimed = (
        replace(term, context=trigger)
        for trigger, row in contexts.builtin_rows()
        for term in load_terms(["\t".join(row)])
    )
    listed = load_terms(data.splitlines())
    return (*listed, *sounded(listed), *aimed)


SOUNDS_K = re.compile(r"c(?=[aouâàôûù])|qu")


def sounded(terms: Iterable[Term]) -> Iterator[Term]:
    """French terms written as they sound, k for a hard c or qu ("konnard", "enkulé", "niker"); only
    words of five letters or more: "kon" or "nike" say nothing."""
    for term in terms:
        if term.lang == "fr":
            spoken = SOUNDS_K.sub("k", term.text)
            if spoken != term.text and len(spoken) >= 5:
                yield replace(term, text=spoken)


def guess_language(text: str) -> str | None:
    """French or English by function words of the text as written (accents folded, letters written
    one by one left out); None when it does not say. The screen's shortcut and the detectors both ask this, so they always agree."""
    folded = plain_fold(text)
    words = WORDS.findall(folded)
    fr = sum(map(STOPWORDS["fr"].__contains__, words))
    en = sum(map(STOPWORDS["en"].__contains__, words))
    # Letters, not words? Count without them. "a" and "i" are the only stop words of one letter, so
    # without either the counts stay what they are.
    letters = words.count("a") + words.count("i")
    if letters and 0 <= en - fr <= letters:
        words = WORDS.findall(LETTER_BY_LETTER.sub(" ", folded))
        fr = sum(map(STOPWORDS["fr"].__contains__, words))
        en = sum(map(STOPWORDS["en"].__contains__, words))
    if fr == en:
        return None
    return "fr" if fr > en else "en"


Entry = tuple[Term, tuple[int, ...]]


def _automaton(entries: dict[str, list[Entry]]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for key, found in entries.items():
        automaton.add_word(key, (len(key), tuple(found)))
    automaton.make_automaton()
    return automaton


class Lexicon:
    """A set of terms, compiled for fast scanning."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self.terms = tuple(terms)
        plain: dict[str, list[Entry]] = {}
        folded: dict[str, list[Entry]] = {}
        # Patterns with an open slot ("espèce de {*}"): one alternation, each in its own group.
        self._open = tuple(term for term in self.terms if contexts.is_pattern(term.text))
        self._open_patterns = tuple(
            re.compile(f"(?<![a-z0-9]){contexts.open_regex(term.text)}") for term in self._open
        )
        # one RE2 pass says which may be there (most texts the screen sends here hold none)
        starts = re2.Set.SearchSet(re2.Options())
        for term in self._open:
            starts.Add(contexts.starts_regex(term.context.partition("\t")[0].split("|")))
        starts.Compile()
        self._open_starts = set_matcher(starts)
        for term in self.terms:
            if contexts.is_pattern(term.text):
                continue
            lowered = term.text.lower()
            for key in {lowered, lowered.translate(latin_fold())}:
                plain.setdefault(key, []).append((term, ()))
            key, runs = fold_term(term.text)
            folded.setdefault(key, []).append((term, runs))
        self._plain = _automaton(plain)
        self._folded = _automaton(folded)
        # Single-word entries by length, for masked words ("f*ck" is matched against the 4-letter ones).
        self._single_words: dict[int, list[tuple[str, list[Entry]]]] = {}
        for key, found in folded.items():
            if key.isalpha():
                self._single_words.setdefault(len(key), []).append((key, found))
        # The same by length and first letter: a masked word shows its first letter.
        self._single_starting: dict[tuple[int, str], list[tuple[str, list[Entry]]]] = {}
        for size, keyed in self._single_words.items():
            for key, found in keyed:
                self._single_starting.setdefault((size, key[0]), []).append((key, found))
        # The same, spelled out (doubled letters kept), for words with signs in place of letters:
        # by length, position and letter, so that a word is compared with the few that may fit.
        self._spelled: dict[tuple[int, int, str], dict[str, list[Term]]] = {}
        for term in self.terms:
            key = term.text.translate(term_table()).lower()
            if key.isascii() and key.isalpha() and not contexts.is_pattern(term.text):
                for at, letter in enumerate(key):
                    self._spelled.setdefault((len(key), at, letter), {}).setdefault(key, []).append(term)

    def scan(self, text: str, thorough: bool = False) -> list[TermMatch]:
        """Every term in `text`, disguised or not, with its span in `text`; one match per place.

        `thorough` skips the fast path, for a text known to hold something term-like."""
        low = text.lower()
        if not thorough and len(low) == len(text):
            if not low.isascii():
                low = low.translate(latin_fold())
            if not SUSPICIOUS(low):
                return _outermost(_listed_first(self._plain_matches(text, low)))
        doubled: list[TermMatch] = []
        found = list(self._full_matches(text, doubled))
        return _outermost(_listed_first(found or doubled))

    def _plain_matches(self, text: str, low: str) -> Iterator[TermMatch]:
        language: list[str | None] = []
        for end, (length, entries) in self._plain.iter(low):
            start = end - length + 1
            for term, _ in entries:
                if (
                    _bounded(low, start, end + 1, term.match)
                    and self._in_scope(term, text, language)
                    and not _allowed(term, text, start, end + 1)
                ):
                    yield TermMatch(term, start, end + 1, ())
        yield from self._open_matches(text, low, None, language)

    def _open_matches(
        self, text: str, folded: str, view: View | None, language: list[str | None]
    ) -> Iterator[TermMatch]:
        """Open patterns in `folded` (the text itself, lower case and accents folded, or the term
        `view` of it), reported as the phrase found; allow phrases take that phrase for `{}`."""
        if not self._open:
            return
        for index in sorted(self._open_starts(folded)):
            yield from self._open_pattern(
                self._open[index], self._open_patterns[index], text, folded, view, language
            )

    def _open_pattern(
        self,
        term: Term,
        pattern: re.Pattern[str],
        text: str,
        folded: str,
        view: View | None,
        language: list[str | None],
    ) -> Iterator[TermMatch]:
        for found in pattern.finditer(folded):
            if not _bounded(folded, found.start(), found.end(), term.match):
                continue
            start, end = view.span(found.start(), found.end()) if view else found.span()
            phrase = plain_fold(text[start:end])
            said = replace(
                term, text=text[start:end], allow=tuple(a.replace("{}", phrase) for a in term.allow)
            )
            if self._in_scope(term, text, language) and not _allowed(said, text, start, end):
                steps = () if view is None else _steps_within(text[start:end], said, view)
                yield TermMatch(said, start, end, steps)

    def _full_matches(self, text: str, doubled: list[TermMatch]) -> Iterator[TermMatch]:
        """Terms in the term view of `text`; phrases aimed at someone that only a doubled letter
        keeps from matching ("you tooll") go to `doubled`, worth reporting when nothing else is:
        the fast path, which sees no doubled letter, then agrees."""
        language: list[str | None] = []
        view = term_view(text, track=True)
        steps: dict[str, tuple[str, ...]] = {}  # several entries often match the same characters
        for end, (length, entries) in self._folded.iter(view.text):
            start = end - length + 1
            for term, runs in entries:
                if not self._in_scope(term, text, language):
                    continue
                first, last = view.span(start, end + 1)
                spaced = within_spaced(view, first, last)
                if not (spaced or _bounded(view.text, start, end + 1, term.match)) or _allowed(
                    term, text, first, last
                ):
                    continue
                kept = view.has_runs(start, runs, loose=spaced)
                if kept or (term.context and view.has_runs(start, runs, loose=True)):
                    # what revealed it is worked out only for a match that is kept
                    match = TermMatch(term, first, last, _steps_within(text[first:last], term, view, steps))
                    if kept:
                        yield match
                    else:
                        doubled.append(match)
        yield from self._open_matches(text, view.text, view, language)
        yield from self._signed_words(text, language, steps)
        masks = MASK_WORD.finditer(view.text) if "*" in view.text or "#" in view.text else ()
        for mask in masks:
            shown = sum(c.isalpha() for c in mask.group(0))
            start, end = view.span(mask.start(), mask.end())
            # "f***", "m****": one letter says enough only of a term that blocks, never of a name
            # written with its initial ("M. D***")
            initial = shown == 1 and (len(mask.group(0)) < 4 or TITLE.search(text, 0, start) is not None)
            if shown < 1 or initial:
                continue
            found = list(self._masked(mask.group(0)))
            if shown == 1:  # one letter for each mask, a term of the text's language first
                size = len(mask.group(0))
                found = [t for t in found if t.severity == "block" and sum(fold_term(t.text)[1]) == size]
                found.sort(key=lambda t: t.lang != guess_language(text))
            for term in found:
                if self._in_scope(term, text, language) and not _allowed(term, text, start, end):
                    yield TermMatch(term, start, end, (*_steps_of(text[start:end], steps), "mask"))
        for mask in SOFT_MASK_WORD.finditer(view.text):
            start, end = view.span(mask.start(), mask.end())
            before, after = mask.groups()
            for key, entries in self._single_starting.get((len(before) + len(after) + 1, before[0]), ()):
                if key.startswith(before) and key.endswith(after):
                    for term, _ in entries:
                        if self._in_scope(term, text, language) and not _allowed(term, text, start, end):
                            yield TermMatch(term, start, end, (*_steps_of(text[start:end], steps), "mask"))

    def _signed_words(
        self, text: str, language: list[str | None], steps: dict[str, tuple[str, ...]]
    ) -> Iterator[TermMatch]:
        """Words with signs in place of letters ("b!tch"), read in the text itself."""
        for start, end, letters in disguised_words(text):
            for key, terms in self._spelled.get((len(letters), *anchor(letters)), {}).items():
                if spells(letters, key):
                    for term in terms:
                        if self._in_scope(term, text, language) and not _allowed(term, text, start, end):
                            yield TermMatch(term, start, end, (*_steps_of(text[start:end], steps), "signs"))

    def _masked(self, word: str) -> Iterator[Term]:
        """Single-word entries a masked word may stand for. A mask hides one letter, or none where
        the letter next to it was doubled and squeezed; between two equal letters ("abrutii*i",
        squeezed to "abruti*i") it may be one more of them."""
        seen: set[str] = set()
        for shape in {word, MASK_IN_RUN.sub(r"\1", word)}:
            masks = sum(c in "*#" for c in shape)
            pattern = re.compile("".join(".?" if c in "*#" else re.escape(c) for c in shape))
            for n in range(len(shape), len(shape) - masks - 1, -1):  # a letter a mask first: "f*ck" is fuck
                for key, entries in self._single_starting.get((n, shape[0]), ()):
                    if key not in seen and pattern.fullmatch(key):
                        seen.add(key)
                        yield from (term for term, _ in entries)

    @staticmethod
    def _in_scope(term: Term, text: str, language: list[str | None]) -> bool:
        if term.scope != "lang":
            return True
        if not language:
            language.append(guess_language(text))
        return language[0] == term.lang


def _steps_within(
    found: str, term: Term, view: View, known: dict[str, tuple[str, ...]] | None = None
) -> tuple[str, ...]:
    """The normalisation steps that revealed this match, not those the rest of the text needed
    (`known`: the steps of the characters already asked about in this text)."""
    if plain_fold(found) == _folded_entry(term.text):
        return ()
    return (term_steps(found) if known is None else _steps_of(found, known)) or view.steps


def _steps_of(found: str, known: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """`term_steps(found)`, worked out once per text for the same characters."""
    steps = known.get(found)
    if steps is None:
        steps = known[found] = term_steps(found)
    return steps


@lru_cache(maxsize=4096)
def _folded_entry(text: str) -> str:
    """`plain_fold` of a lexicon entry's text, asked again at each match of it."""
    return plain_fold(text)


def _allowed(term: Term, text: str, start: int, end: int) -> bool:
    """Whether the match lies inside one of the term's innocent phrases, itself a whole word."""
    if not term.allow:
        return False
    around = plain_fold(text)
    for phrase in term.allow:
        at = around.find(phrase, max(0, start - len(phrase)), end + len(phrase))
        while at != -1 and at <= start:
            if at + len(phrase) >= end and _bounded(around, at, at + len(phrase), "word"):
                return True
            at = around.find(phrase, at + 1, end + len(phrase))
    return False


def _listed_first(matches: Iterable[TermMatch]) -> list[TermMatch]:
    """Without the phrases of open patterns that hold a listed term as severe ("espèce de connard"):
    the term is what the finding names; "espèce d'idiot" still blocks where "idiot" alone warns."""
    found = list(matches)
    listed = [m for m in found if not m.term.context.endswith("\t*")]
    return [
        m
        for m in found
        if not m.term.context.endswith("\t*")
        or not any(
            m.start <= n.start
            and n.end <= m.end
            and (n.term.severity == "block" or m.term.severity != "block")
            for n in listed
        )
    ]


def _outermost(matches: Iterable[TermMatch]) -> list[TermMatch]:
    """One match per place: the widest, and of equal spans the most severe."""
    ordered = sorted(matches, key=lambda m: (m.start, -m.end, m.term.severity != "block"))
    kept: list[TermMatch] = []
    for match in ordered:
        if kept and match.start >= kept[-1].start and match.end <= kept[-1].end:
            continue
        kept.append(match)
    return kept


def _bounded(text: str, start: int, end: int, match: str) -> bool:
    """Whole word, word prefix or substring, as the term asks."""
    if match == "substring":
        return True
    if start > 0 and text[start - 1].isalnum():
        return False
    if match == "clause":  # "you tool!", "'you tool'" but not "you tool-free", "a tool to reset"
        after = text[end:].lstrip(" ")
        closing = after[:1] in ("'", "’") and not after[1:2].isalnum()  # a quote, not "tool's"
        return not after or closing or not (after[0].isalnum() or after[0] in "-'’")
    return match == "prefix" or end >= len(text) or not text[end].isalnum()
