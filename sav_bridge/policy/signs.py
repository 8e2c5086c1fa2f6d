"""Words with signs, emoji or digits in place of some of their letters: "c$ier", "f🤬ck", "80110ck5", "m3.r.d.3".

Leet reads each sign as one letter ("$" is s); people also use a sign as a mask for whichever letter
they hide ("c$ier" is chier, "bul!!hit" bullshit) and digits for the letters they resemble ("8" for b,
"1" for l as well as i). A word of that shape is compared, letter for letter, with the lexicon's
single-word entries of its length: a letter must be that letter (after the term view's look-alike
fold), a digit one of the letters it resembles, any other sign any letter. At least two real letters,
and at most one hidden letter for two shown, so that product codes and prices stay what they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from sav_bridge.policy.normalize import term_table
from sav_bridge.policy.probe import Probe

# Digits for the letters they resemble; other signs stand for their leet letter or any letter.
DIGITS = {
    "0": "o",
    "1": "il",
    "2": "z",
    "3": "e",
    "4": "a",
    "5": "s",
    "6": "bg",
    "7": "t",
    "8": "b",
    "9": "g",
}
SIGNS = "@$!%^&?|€~+_"  # not * nor #: masks, matched as such (`normalize.MASK_WORD`)
# Emoji and pictographs in the middle of a word hide a letter too ("f🤬ck"); at its ends they decorate it.
EMOJI = "\u2600-\u27bf\U0001f300-\U0001faff"
# A word: letters (any script), digits and signs; not a handle or a hashtag, nor part of an address or URL.
# (one that has a digit, a sign or an emoji after its first letters: the others are left at once)
WORD = re.compile(
    rf"(?<![\w@#./:{re.escape(SIGNS)}])(?=[^\W\d_]*[\d{re.escape(SIGNS)}{EMOJI}])[\w{re.escape(SIGNS)}{EMOJI}]+"
)
# What such a word holds somewhere, found by one RE2 search: a digit, sign or emoji next to a letter.
_HIDING = f"[0-9{re.escape(SIGNS)}{EMOJI}]"
NEXT_TO_A_LETTER = Probe(rf"\pL{_HIDING}|{_HIDING}\pL")
DECORATION = re.compile(f"^[{EMOJI}]+|[{EMOJI}]+$")
EMOJI_CHAR = re.compile(f"[{EMOJI}]")
ADDRESS = re.compile(r"[.@/:]\w")  # what goes on after it: an e-mail address, a domain, a URL
LEADING = "@#^_+~&?%"  # a handle, a hashtag, an agent's initials ("^TG"): no letter hidden before
TRAILING = "!?|"  # "bitch!!" ends with punctuation, not with hidden letters
# Pieces of one or two characters joined by dots or dashes ("m3.r.d.3"): one word once joined.
DOTTED = re.compile(
    rf"(?<![\w.\-{re.escape(SIGNS)}])(?:[\w$@!]{{1,2}}[.\-·•]){{2,}}[\w$@!]{{1,2}}(?![\w.\-])"
)
JOINS = re.compile(r"[.\-·•]")
SHORT_PIECE = re.compile(r"[.\-·•]\w{1,2}[.\-·•]")  # what DOTTED needs, found faster


ANY_LETTER = "abcdefghijklmnopqrstuvwxyz"
Spelling = tuple[str, ...]  # for each character of a word, the letters it may stand for


def disguised_words(text: str) -> Iterator[tuple[int, int, Spelling]]:
    """Each word of `text` with a sign, emoji or digit among at least two letters, with its span and
    what it may spell."""
    words = WORD.finditer(text) if NEXT_TO_A_LETTER(text) else ()
    for found in words:
        if found.group(0).isalpha() or found.group(0).isdigit():
            continue  # most words: nothing hidden, or no letter at all
        undecorated = DECORATION.sub("", found.group(0))
        start = found.start() + found.group(0).find(undecorated)
        word = undecorated.rstrip(TRAILING)
        if not word or word[0] in LEADING or ADDRESS.match(text, found.end()):
            continue
        letters = spelling(word)
        if letters is not None:
            yield start, start + len(word), letters
    for found in DOTTED.finditer(text) if SHORT_PIECE.search(text) else ():
        letters = spelling(JOINS.sub("", found.group(0)))
        if letters is not None:
            yield found.start(), found.end(), letters


def spelling(word: str) -> Spelling | None:
    """The letters each character of `word` may stand for, or None when it is not shaped like a
    disguised word."""
    shown = sum(map(str.isalpha, word))
    if shown < 2 or shown == len(word):
        return None
    letters = hidden = 0
    parts = []
    folded = word.translate(_fold()).lower()
    if len(folded) != len(word):
        return None
    for char, low in zip(word, folded, strict=True):
        if char.isalpha() and "a" <= low <= "z":
            letters += 1
            parts.append(low)
        elif char in DIGITS:
            parts.append(DIGITS[char])
        elif char in SIGNS or EMOJI_CHAR.match(char):
            hidden += 1
            parts.append(ANY_LETTER)
        else:
            return None
    if letters < 2 or hidden > max(1, letters // 2):
        return None
    return tuple(parts)


def spells(letters: Spelling, word: str) -> bool:
    """Whether a disguised word's `letters` may spell `word`."""
    return len(word) == len(letters) and all(c in allowed for c, allowed in zip(word, letters, strict=True))


def anchor(letters: Spelling) -> tuple[int, str]:
    """A position the word shows plainly and its letter: what a lexicon indexes its words by."""
    return next((i, allowed) for i, allowed in enumerate(letters) if len(allowed) == 1)


@cache
def _fold() -> dict[int, str]:
    return term_table()
