"""Insults that depend on context, as term rows: `espèce de {fr}` × the words of the list `fr`.

A word innocent alone ("Dick", "a tool", "la vache") insults when it is aimed at someone ("you
tool!", "espèce de vache"). `data/contexts.tsv` keeps such patterns editable, each with its own
severity; they are expanded here, once, into rows shaped like those of `terms.tsv`, so that the
lexicon finds them through every disguise it already undoes (leet, look-alikes, spacing, line breaks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources

SLOT = re.compile(r"\{([^{}]*)\}")
VOWELS = tuple("aâàeéèêëiîïoôuûùyœh")


def load_lists(lines: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The word lists (`=name<TAB>word|word`) of a contexts file."""
    lists = {}
    for line in lines:
        if line.startswith("="):
            name, _, words = line[1:].rstrip("\n").partition("\t")
            lists[name] = tuple(w.strip() for w in words.split("|") if w.strip())
    return lists


def expand(lines: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """Every pattern of a contexts file with its slots filled: rows of `terms.tsv`'s columns (term,
    lang, category, severity, match, scope[, allow]), apostrophes written both ways (' and ’), each
    with the words its pattern starts with (what the screen looks for)."""
    lines = list(lines)
    lists = load_lists(lines)
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith(("#", "=")):
            continue
        columns = line.rstrip("\n").split("\t")
        if len(columns) not in (6, 7):
            raise ValueError(f"contexts.tsv line {number}: expected 6 or 7 tab-separated columns")
        pattern, lang = columns[0], columns[1]
        allow = columns[6].split("|") if len(columns) == 7 else []
        prefix = pattern.partition("{")[0].rstrip(" '’")
        for text, words in _filled(pattern, lang, lists, number):
            phrases = [a.replace("{}", words[-1]) for a in allow]
            # what the screen looks for: the words before the first slot and the first word in it
            trigger = f"{prefix}\t{words[0]}" if prefix and words else ""
            for spelling in {text, text.replace("'", "’")}:
                yield trigger, [spelling, *columns[1:6], *(["|".join(phrases)] if phrases else [])]


def _filled(
    pattern: str, lang: str, lists: dict[str, tuple[str, ...]], number: int
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The pattern with its slots filled by each of their words in turn, with the words used."""
    slot = SLOT.search(pattern)
    if slot is None:
        yield pattern, ()
        return
    for word in _words(slot.group(1), lang, lists, number):
        if pattern[: slot.start()].endswith(("'", "’")) and not word.startswith(VOWELS):
            continue  # "espèce d'{fr}" takes "ordure", not "con"
        filled = pattern[: slot.start()] + word + pattern[slot.end() :]
        for text, words in _filled(filled, lang, lists, number):
            yield text, (word, *words)


def _words(slot: str, lang: str, lists: dict[str, tuple[str, ...]], number: int) -> tuple[str, ...]:
    if "|" in slot:
        return tuple(slot.split("|"))
    if slot not in lists:
        raise ValueError(f"contexts.tsv line {number}: no word list named {slot!r}")
    words = lists[slot]
    if lang == "en":  # "you idiots", "bunch of clowns"
        words += tuple(w + "s" for w in words if " " not in w and not w.endswith("s"))
    return words


@cache
def builtin_rows() -> tuple[tuple[str, list[str]], ...]:
    data = resources.files("sav_bridge.policy").joinpath("data/contexts.tsv").read_text("utf-8")
    return tuple(expand(data.splitlines()))
