"""Normalised views of a reply, with a map from every normalised character back to the original text.

Two views:
- the **term view** folds everything an agent (or a pasted text) might use to hide a word: NFKC,
  zero-width and format characters, case, accents, look-alike letters (Cyrillic, Greek, maths, from
  Unicode confusables), phrases split by line breaks, spaced or dotted letters ("f.u.c.k", "s 4 l 0 p e"),
  leet inside words ("m3rde"), and repeated letters ("merdeeee", with their run lengths kept so that
  "as" never meets "ass"). Masks ("f*ck") stay, for `terms` to match against entries of their shape.
  Lexicon entries go through the same folding, so both sides meet.
- the **PII view** is lighter: NFKC digits and letters, no format characters, but no leet (O is not 0)
  and no case folding (IBANs).

Each step is a regular-expression substitution or a 1:1 translation, run in C. Offsets are only
computed (`track=True`) when a finding has to be located in the original text, which is rare.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

Offsets = list[tuple[int, int]]

ZERO_WIDTH_CHARS = "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
ZERO_WIDTH = re.compile(f"[{ZERO_WIDTH_CHARS}]")
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"})  # fmt: skip
LEET_CHARS = "013457@$!|€"
# A token made of letters and leet characters, with at least one of each; '@' cannot start it (a handle).
# A trailing '!' or '|' is punctuation ("thanks!!"), not a letter.
_LEET = re.escape(LEET_CHARS)
_IN_WORD = f"a-z{_LEET}*#"  # masks may stand between leet characters ("sh*7")
LEET_WORD = re.compile(
    rf"(?<![\w@])(?=[{_IN_WORD}]*[a-z])(?=[{_IN_WORD}]*[{_LEET}])(?!@)"
    rf"[{_IN_WORD}]*[a-z*#{re.escape(LEET_CHARS.replace('!', '').replace('|', ''))}](?!\w)"
)
# Letters written one by one ("f.u.c.k", "s 4 l 4 u d", "m * r d e", "C h i e rrr"): single letters,
# leet or mask characters, the last one possibly repeated; joined only when two or more are letters.
SPACED_UNIT = f"[{_IN_WORD}]"
# What letters written one by one always hold, found faster: a single unit between two separators.
_MAY_BE_SPACED = re.compile(rf"[ ._\-·•/\\]{SPACED_UNIT}[ ._\-·•/\\]")
_MAY_BE_LEET = re.compile(f"[{_LEET}]")
SPACED = re.compile(
    rf"(?<![\w*])(?:{SPACED_UNIT}[ ._\-·•/\\]+){{2,}}(?:(?P<run>[a-z])(?P=run)*|{SPACED_UNIT})(?![\w*#])"
)
WHITESPACE = re.compile(r"\s{2,}|[^\S ]")
SEPARATORS = re.compile(r"[ ._\-·•/\\]+")
REPEATS = re.compile(r"([a-z])\1+")
LONG_RUN = re.compile(r"([a-z])\1\1")
# A masked word ("f*ck", "m#rde"); a "#" before the first letter is a hashtag, not a mask.
MASK_WORD = re.compile(r"(?<![\w*])[a-z][a-z*#]*[*#][a-z*#]*(?![\w*#])")
# One letter of a short word hidden by another sign ("f.ck", "sh-t", "f%ck", "b_tch") or by an "x"
# between two consonants ("fxck", "shxt": no French or English word spells it so). Unlike "*", these
# signs also join words ("e-mail", "est-ce"), so they stand for exactly one letter of a listed term.
SOFT_MASKS = ".\\-_%?^+~•"
CONSONANT = "bcdfghjklmnpqrstvwz"
SOFT_MASK_WORD = re.compile(
    rf"(?<![\w*#{SOFT_MASKS}])([a-z]{{1,4}})(?:[{SOFT_MASKS}]|(?<=[{CONSONANT}])x(?=[{CONSONANT}]))([a-z]{{1,4}})"
    rf"(?![\w*#]|[{SOFT_MASKS}][a-z])"
)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs a third of a short view
class View:
    """A normalised text; `offsets[i]` is the (start, end) span in the original of character i."""

    text: str
    steps: tuple[str, ...]
    offsets: Offsets | None = None
    unsqueezed: str | None = None  # the text before repeated letters were squeezed
    spaced: tuple[tuple[int, int], ...] = ()  # spans of the original written letter by letter
    #: How many times each character stood in a row before squeezing (None: nothing was squeezed).
    runs: tuple[int, ...] | None = None

    def has_runs(self, start: int, minimum: tuple[int, ...], loose: bool = False) -> bool:
        """Whether the letters from `start` repeat as the term's do, or are stretched (three or more).

        Repeated letters are squeezed on both sides ("merdeeee" and "merde" meet); without this check
        "as" would meet "ass", "pis" "piss", and a doubled letter is spelling, not stretching:
        "baisser" is not "baiser", "Pratt" is not "prat". `loose` (letters written one by one, where
        "a a s s h o l e" doubles the article's "a") only asks for at least as many.
        """
        if self.runs is None:
            return True
        return all(
            have >= need if loose else have == need or have >= max(3, need)
            for have, need in zip(self.runs[start : start + len(minimum)], minimum, strict=False)
        )

    def span(self, start: int, end: int) -> tuple[int, int]:
        if self.offsets is None:
            raise ValueError("offsets were not tracked for this view")
        return self.offsets[start][0], self.offsets[end - 1][1]


def _base_letter(ch: str, confusables: dict[str, str]) -> str:
    """One character folded to what it looks like: NFKC, lower case, no accent, Latin look-alike."""
    nfkc = unicodedata.normalize("NFKC", ch)
    if len(nfkc) != 1:
        return ch
    low = nfkc.lower()
    if len(low) != 1:
        low = nfkc
    decomposed = unicodedata.normalize("NFD", low)
    base = decomposed[0] if decomposed and decomposed[0].isascii() and decomposed[0].isalnum() else low
    # NFKC or lower case may lead away from the table's entry: the lunate sigma "ϲ" becomes "ς",
    # which looks like nothing; the capital "К" becomes "к", which is not "k" in Unicode's table.
    return confusables.get(base) or confusables.get(nfkc) or confusables.get(ch) or _named_letter(ch) or base


# Latin letters whose decomposition keeps no base letter ("ƒ", "ł", "ø", small capitals "ᴍᴇʀᴅᴇ"):
# their Unicode name says which letter they are.
NAMED_LETTER = re.compile(
    r"LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL |DOTLESS |SCRIPT |OPEN )?([A-Z])(?: WITH (?!SMALL LETTER).*)?"
    r"|(?:NEGATIVE (?:SQUARED|CIRCLED) LATIN CAPITAL|REGIONAL INDICATOR SYMBOL) LETTER ([A-Z])"
)


def _named_letter(ch: str) -> str | None:
    found = NAMED_LETTER.fullmatch(unicodedata.name(ch, ""))
    return next(letter for letter in found.groups() if letter).lower() if found else None


@cache
def lookalikes() -> dict[str, str]:
    """Letters that pass for a Latin one only in some fonts or styles (`data/lookalikes.tsv`)."""
    data = resources.files("sav_bridge.policy").joinpath("data/lookalikes.tsv").read_text("utf-8")
    rows = (line.split("\t") for line in data.splitlines() if line.strip() and not line.startswith("#"))
    return {row[0]: row[1] for row in rows}


@cache
def _confusables() -> dict[str, str]:
    """Characters that look like one ASCII letter or digit, per Unicode's confusables table."""
    data = json.loads(
        resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    table: dict[str, str] = {}
    for char, glyphs in data.items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in glyphs:
            target = glyph["c"]
            if len(target) == 1 and target.isascii() and target.isalpha():
                table[char] = target.lower()
                break
    return table


@cache
def term_table() -> dict[int, str]:
    """The 1:1 fold of the term view, for every character of the scripts people use to disguise words."""
    confusables = _confusables()
    blocks = [(0x41, 0x5A), (0xC0, 0x2AF), (0x370, 0x58F), (0x1D00, 0x1DBF), (0x1E00, 0x1FFF), (0x2100, 0x24FF),
              (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF)]  # fmt: skip
    table: dict[int, str] = {}
    for lo, hi in blocks:
        for code in range(lo, hi + 1):
            ch = chr(code)
            folded = _base_letter(ch, confusables)
            if folded != ch and len(folded) == 1:
                table[code] = folded
    for ch, letter in lookalikes().items():
        if not table.get(ord(ch), "").isascii() or ord(ch) not in table:
            table[ord(ch)] = letter
    return table


def char_class(codes: Iterable[int]) -> str:
    """A regular-expression class (valid in `re` and RE2) of these code points, as ranges."""
    ranges: list[list[int]] = []
    for code in sorted(set(codes)):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in ranges) + "]"


@cache
def zero_width_codes() -> tuple[int, ...]:
    """The invisible characters the views drop, as code points."""
    return tuple(code for code in range(0x10000) if ZERO_WIDTH.match(chr(code)))


@cache
def space_codes() -> tuple[int, ...]:
    r"""Every white-space character (no-break and ideographic spaces, line breaks), as code points:
    RE2's `\s` knows only ASCII ones. None lies above U+3000."""
    return tuple(code for code in range(0x3000 + 1) if chr(code).isspace())


@cache
def hiding_characters() -> str:
    """What can hide a letter outside Latin: look-alikes that fold to one, and invisible characters.
    Emoji, the euro sign and typographic punctuation are not in it."""
    return char_class([*(code for code in term_table() if code >= 0x250), *zero_width_codes()])


@cache
def pii_view_characters() -> str:
    """What the PII view changes: digits and letters written in other forms, invisible characters."""
    return char_class([*pii_table(), *zero_width_codes()])


@cache
def pii_table() -> dict[int, str]:
    """NFKC for digits and letters written in other forms (fullwidth, maths), nothing else."""
    table: dict[int, str] = {}
    for lo, hi in [(0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x2070, 0x209F), (0x2460, 0x24FF)]:
        for code in range(lo, hi + 1):
            nfkc = unicodedata.normalize("NFKC", chr(code))
            if len(nfkc) == 1 and nfkc.isascii() and nfkc.isalnum():
                table[code] = nfkc
    return table


Replace = Callable[[re.Match[str]], str]


def _sub(
    pattern: re.Pattern[str], repl: Replace, text: str, offsets: Offsets | None
) -> tuple[str, Offsets | None]:
    """`pattern.sub`, also mapping each output character to the original span it came from."""
    if offsets is None:
        return pattern.sub(repl, text), None
    return _replaced(list(pattern.finditer(text)), repl, text, offsets)


def _replaced(
    matches: list[re.Match[str]], repl: Replace, text: str, offsets: Offsets | None
) -> tuple[str, Offsets | None]:
    """`text` with each of `matches` replaced by `repl(match)`, and the offsets mapped alike."""
    if not matches:
        return text, offsets  # most patterns, most texts: nothing to copy
    out: list[str] = []
    mapped: Offsets = []
    last = 0
    for match in matches:
        start, end = match.span()
        replacement = repl(match)
        out.append(text[last:start])
        out.append(replacement)
        if offsets is not None:
            mapped.extend(offsets[last:start])
            if len(replacement) == end - start:
                mapped.extend(offsets[start:end])
            else:
                whole = (offsets[start][0], offsets[end - 1][1]) if end > start else offsets[start]
                mapped.extend([whole] * len(replacement))
        last = end
    out.append(text[last:])
    if offsets is None:
        return "".join(out), None
    mapped.extend(offsets[last:])
    return "".join(out), mapped


def _unspace(match: re.Match[str]) -> str:
    letters = sum(map(str.isalpha, match.group(0)))
    units = len(SEPARATORS.split(match.group(0)))
    if letters < 2 and (letters == 0 or units < 4):
        return match.group(0)  # "1 . 3 . 5", a version or a list, "4 x 4": not a word; "5 h 1 7" is one
    return SEPARATORS.sub("", match.group(0))


def _one_space(match: re.Match[str]) -> str:
    return " "


def _unleet(match: re.Match[str]) -> str:
    return match.group(0).translate(LEET)


def _squeeze(match: re.Match[str]) -> str:
    return match.group(1)


def _drop(match: re.Match[str]) -> str:
    return ""


_SPANS: Offsets = [(i, i + 1) for i in range(1024)]  # shared: the tuples are never changed


def _identity(length: int) -> Offsets:
    """Offsets of a text against itself: character i comes from (i, i + 1)."""
    if length <= len(_SPANS):
        return _SPANS[:length]
    return [(i, i + 1) for i in range(length)]


def term_view(text: str, track: bool = False) -> View:
    folded, offsets, steps, spaced = _folded(text, track)
    runs = list(REPEATS.finditer(folded))
    squeezed, offsets = _replaced(runs, _squeeze, folded, offsets)
    if any(run.end() - run.start() >= 3 for run in runs):
        steps.append("repeated letters")
    return View(squeezed, tuple(steps), offsets, folded, tuple(spaced), _run_lengths(runs, len(squeezed)))


def term_steps(text: str) -> tuple[str, ...]:
    """`term_view(text).steps` without the view: what a match's own characters needed."""
    folded, _, steps, _ = _folded(text, track=False)
    if LONG_RUN.search(folded):
        steps.append("repeated letters")
    return tuple(steps)


def _folded(text: str, track: bool) -> tuple[str, Offsets | None, list[str], list[tuple[int, int]]]:
    """The term view before repeated letters are squeezed, its offsets when tracked, the steps that
    changed it and the spans of letters written one by one."""
    offsets = _identity(len(text)) if track else None
    steps: list[str] = []
    table = term_table()
    folded = text.translate(table).lower()
    if len(folded) != len(text):  # a rare lower() that changes length: keep the unfolded case
        folded = text.translate(table)
    if folded != text.lower():
        steps.append("homoglyphs/accents")
    # Each step is skipped when a cheap look shows it cannot apply: the invisible characters are not
    # ASCII, white space other than one plain space is not printable, letters written one by one
    # have a single unit between two separators somewhere, leet has a leet character.
    if not folded.isascii():
        before = folded
        folded, offsets = _sub(ZERO_WIDTH, _drop, folded, offsets)
        if folded != before:
            steps.append("zero-width")
    if "  " in folded or not folded.isprintable():
        before = folded
        folded, offsets = _sub(WHITESPACE, _one_space, folded, offsets)
        if folded != before:
            steps.append("white space")
    spaced: list[tuple[int, int]] = []
    if _MAY_BE_SPACED.search(folded):
        before = folded
        matches = list(SPACED.finditer(folded))
        if offsets is not None:
            spaced = [
                (offsets[m.start()][0], offsets[m.end() - 1][1]) for m in matches if _unspace(m) != m.group(0)
            ]
        folded, offsets = _replaced(matches, _unspace, folded, offsets)
        if folded != before:
            steps.append("spaced letters")
    if _MAY_BE_LEET.search(folded):
        before = folded
        folded, offsets = _sub(LEET_WORD, _unleet, folded, offsets)
        if folded != before:
            steps.append("leet")
    return folded, offsets, steps, spaced


def within_spaced(view: View, start: int, end: int) -> bool:
    """Whether original span [start, end) lies in letters written one by one ("a s l u t"), where
    word boundaries are lost: "a" + "slut" is joined to "aslut"."""
    return any(s <= start and end <= e for s, e in view.spaced)


def letter_runs(text: str) -> tuple[int, ...]:
    """For each character of the squeezed text, how many times it stood in a row before squeezing."""
    runs = list(REPEATS.finditer(text))
    return _run_lengths(runs, len(text) - sum(run.end() - run.start() - 1 for run in runs))


def _run_lengths(runs: list[re.Match[str]], squeezed: int) -> tuple[int, ...]:
    """`letter_runs` from the runs REPEATS found, for a squeezed text of that length."""
    if not runs:
        return (1,) * squeezed
    counts = [1] * squeezed
    removed = 0
    for run in runs:
        start, end = run.span()
        counts[start - removed] = end - start
        removed += end - start - 1
    return tuple(counts)


def fold_term(term: str) -> tuple[str, tuple[int, ...]]:
    """A lexicon entry folded like the text it is matched against (no leet: entries are spelled right),
    with the run length of each of its letters."""
    folded = term.translate(term_table()).lower()
    return REPEATS.sub(_squeeze, folded), letter_runs(folded)


def pii_view(text: str, track: bool = False) -> View:
    offsets = _identity(len(text)) if track else None
    folded = text.translate(pii_table())
    steps = ["nfkc"] if folded != text else []
    without, offsets = _sub(ZERO_WIDTH, _drop, folded, offsets)
    if without != folded:
        steps.append("zero-width")
    return View(without, tuple(steps), offsets)
