"""The tone of a message, from two maintained lexicons that handle negation and intensifiers.

- English: VADER (Hutto & Gilbert, 2014; `vaderSentiment`), made for social media text: "not bad at all"
  is positive, "not good" negative, "very bad" worse than "bad", caps and "!" strengthen. Its compound
  score runs from -1 to +1.
- French: pattern's French lexicon of adjectives as `textblob-fr` ships it (about 5,000 entries with a
  polarity and an intensity), with its handling of negation ("je ne suis pas content" is negative, "je ne
  suis pas mécontent" positive) and intensifiers ("très mécontent" below "mécontent"). Its polarity, the
  mean of the words it knows, runs from -1 to +1. It is loaded at the first French message, never at
  import (the HTTP process does not score moods), and without textblob and nltk (`_pattern`): about 8 MB.

Both are loaded once per process. Each answer names the words that weighed, so an agent can see why.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True)
class Tone:
    """A polarity from -1 (very negative) to +1, by which lexicon, and its negative words."""

    polarity: float
    lexicon: str
    negative_words: tuple[str, ...] = ()


def tone(text: str, language: str, leave_out: Collection[str] = ()) -> Tone | None:
    """The tone of `text` in `language` ("en" or "fr"); None for a language no lexicon here reads.

    `leave_out`: words and phrases (lower case) the caller counts on its own, the escalation words, so that
    none counts twice ("worst" is one, and negative for VADER; pattern reads "inadmissible" as positive).
    """
    if language == "en":
        for words in leave_out:
            text = re.sub(rf"(?<!\w){re.escape(words)}(?!\w)", " ", text, flags=re.IGNORECASE)
        return _english(text)
    if language == "fr":
        return _french(text, frozenset(leave_out))
    return None


@cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

    return SentimentIntensityAnalyzer()


@cache
def _pattern() -> Any:
    """pattern's French sentiment, without textblob-fr's package `__init__`: only that imports textblob and
    nltk (42 of the 50 MB the French path would take; `fr` and `_text` need neither)."""
    if "textblob_fr" not in sys.modules:
        spec = importlib.util.find_spec("textblob_fr")  # finds the package without running its __init__
        if spec is None or spec.submodule_search_locations is None:
            raise ModuleNotFoundError("textblob_fr")
        package = types.ModuleType("textblob_fr")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["textblob_fr"] = package
    from textblob_fr.fr import sentiment  # type: ignore[import-untyped]

    return sentiment


def _english(text: str) -> Tone:
    analyzer = _vader()
    compound = float(analyzer.polarity_scores(text)["compound"])
    lexicon: dict[str, float] = analyzer.lexicon
    negative = (w for w in _WORD.findall(text.lower()) if lexicon.get(w, 0.0) < 0)
    return Tone(compound, "VADER", tuple(dict.fromkeys(negative)))


def _french(text: str, leave_out: frozenset[str]) -> Tone:
    kept = [(words, p) for words, p, _, _ in _pattern()(text).assessments if leave_out.isdisjoint(words)]
    polarity = sum(p for _, p in kept) / len(kept) if kept else 0.0  # pattern's own mean, over what is kept
    negative = (" ".join(w for w in words if w.isalpha() or "'" in w) for words, p in kept if p < 0)
    return Tone(polarity, "pattern", tuple(dict.fromkeys(negative)))
