"""Words with signs or digits in place of some of their letters: "c$ier", "sa%%pard", "80110ck5", "m3.r.d.3".

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
# A word: letters (any script), digits and signs; not a handle or a hashtag, nor part of an address.
WORD = re.compile(rf"(?<![\w@#.{re.escape(SIGNS)}])[\w{re.escape(SIGNS)}]+")
ADDRESS = re.compile(r"[.@/:]\w")  # what goes on after it: an e-mail address, a domain, a URL
LEADING = "@#^_+~&?%"  # a handle, a hashtag, an agent's initials ("^TG"): no letter hidden before
TRAILING = "!?|"  # "bitch!!" ends with punctuation, not with hidden letters
# Pieces of one or two characters joined by dots or dashes ("m3.r.d.3"): one word once joined.
DOTTED = re.compile(
    rf"(?<![\w.\-{re.escape(SIGNS)}])(?:[\w$@!]{{1,2}}[.\-·•]){{2,}}[\w$@!]{{1,2}}(?![\w.\-])"
)
JOINS = re.compile(r"[.\-·•]")


def disguised_words(text: str) -> Iterator[tuple[int, int, int, re.Pattern[str]]]:
    """Each word of `text` with a sign or digit among at least two letters, with its span, its
    length in letters and what it may spell, as a regular expression on lower-case ASCII letters."""
    for found in WORD.finditer(text):
        word = found.group(0).rstrip(TRAILING)
        if not word or word[0] in LEADING or ADDRESS.match(text, found.end()):
            continue
        pattern = spelling(word)
        if pattern is not None:
            yield found.start(), found.start() + len(word), len(word), pattern
    for found in DOTTED.finditer(text):
        word = JOINS.sub("", found.group(0))
        pattern = spelling(word)
        if pattern is not None:
            yield found.start(), found.end(), len(word), pattern


def spelling(word: str) -> re.Pattern[str] | None:
    """The words `word` may stand for, or None when it is not shaped like a disguised word."""
    letters = hidden = 0
    parts = []
    for char in word:
        folded = _letter(char)
        if folded is not None:
            letters += 1
            parts.append(folded)
        elif char in DIGITS:
            parts.append(f"[{DIGITS[char]}]")
        elif char in SIGNS:
            hidden += 1
            parts.append("[a-z]")
        else:
            return None
    if letters < 2 or letters == len(word) or hidden > max(1, letters // 2):
        return None
    return re.compile("".join(parts))


def _letter(char: str) -> str | None:
    if not char.isalpha():
        return None
    folded = char.translate(_fold()).lower()
    return folded if len(folded) == 1 and "a" <= folded <= "z" else None


@cache
def _fold() -> dict[int, str]:
    return term_table()
