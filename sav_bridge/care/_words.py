"""Words and phrases found in a customer's text as a person reads it: case and accents aside, whole words.

Shared by mood (escalation words) and routing (`when.words`). An entry is a word or a phrase; its words
may be separated by any white space, and an entry ending in `*` also matches longer words ("rembours*":
remboursement, remboursez). "carte bloquée" is found in "Ma CARTE  bloquee !" but "ufc" is not found in
"ufcx". Entries are literal text, never patterns: whoever writes them cannot write a slow one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'"})


@cache
def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return base if len(base) == 1 else char


def fold(text: str) -> str:
    """Lower case, Latin accents and typographic apostrophes folded, one character for one."""
    low = text.lower()
    if len(low) != len(text):  # "İ" lower-cases to two characters: keep offsets
        low = text
    return "".join(_fold_char(c) for c in low.translate(_APOSTROPHES))


@dataclass(frozen=True)
class Found:
    """An entry found: as the entry was written, and where (folding keeps offsets: slice the text)."""

    entry: str
    start: int
    end: int


class Phrases:
    """A list of entries, compiled once; `find` says which occur, each counted once, longest first where two
    overlap ("porter plainte" rather than also "plainte")."""

    def __init__(self, entries: Iterable[str]) -> None:
        unique = dict.fromkeys(e.strip() for e in entries if e.strip())
        ordered = sorted(unique, key=lambda e: -len(e))
        self.entries: tuple[str, ...] = tuple(unique)
        self._compiled = [(entry, _compile(entry)) for entry in ordered]

    def find(self, folded: str) -> list[Found]:
        """Entries occurring in `folded` (text passed through `fold`), in the order they occur."""
        taken: list[tuple[int, int]] = []
        found: list[tuple[int, Found]] = []
        for entry, regex in self._compiled:
            for match in regex.finditer(folded):
                start, end = match.span()
                if any(start < e and s < end for s, e in taken):
                    continue
                taken.append((start, end))
                found.append((start, Found(entry, start, end)))
                break
        return [f for _, f in sorted(found, key=lambda pair: pair[0])]


def _compile(entry: str) -> re.Pattern[str]:
    wildcard = entry.endswith("*")
    words = fold(entry.rstrip("*")).split()
    if not words:
        raise ValueError("an entry needs a word")
    body = r"\s+".join(re.escape(w) for w in words)
    tail = r"\w*" if wildcard else ""
    return re.compile(rf"(?<!\w){body}{tail}(?!\w)")
