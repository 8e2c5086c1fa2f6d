"""Insults that depend on context, as term rows: `espèce de {fr}` × the words of the list `fr`.

A word innocent alone ("Dick", "a tool", "la vache") insults when it is aimed at someone ("you
tool!", "espèce de vache"). `data/contexts.tsv` keeps such patterns editable, each with its own
severity; they are expanded here, once, into rows shaped like those of `terms.tsv`, so that the
lexicon finds them through every disguise it already undoes (leet, look-alikes, spacing, line breaks).

A pattern with an open slot, `{*}` ("espèce de {*}", "you absolute {*}"), takes any word: name-calling
picks its nouns from everywhere (a vegetable, an animal), and the phrase alone says it is aimed. Such a
pattern stays one row, matched as a regular expression (`open_regex`) on the folded text; its allow
phrases say where it is innocent, `{}` standing for the phrase found ("une {}": "une espèce de plante").
An empty alternative makes a slot optional: "espèce de {|gros|grosse} {*}".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from importlib import resources

from sav_bridge.policy.normalize import term_table

SLOT = re.compile(r"\{([^{}]*)\}")
VOWELS = tuple("aâàeéèêëiîïoôuûùyœh")
OPEN = "{*"  # "{*}" any word, "{*s}" a plural one, "{*!name}" any word but those of list `name`
MANY = 1000  # a pattern with more phrases than this is matched as one regular expression
OPEN_SLOT = re.compile(r"\{\*(s?)(?:!([^{}]*))?\}")


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
        text = _written_out(pattern, lang, lists, number)
        if OPEN in pattern or _phrases(text) > MANY:  # one row, matched as a regular expression
            yield "|".join(_starts(text)) + "\t*", [text, *columns[1:]]
            continue
        for text, words in _filled(pattern, lang, lists, number):
            phrases = [a.replace("{}", words[-1]) for a in allow]
            # what the screen looks for: the words before the first slot and the first word in it
            # (or in the next one, when an optional slot is left empty)
            first = next((word for word in words if word), "")
            trigger = f"{prefix}\t{first}" if prefix and first else ""
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
        if not word:  # an optional slot left empty: "espèce de {|gros} {fr}"
            filled = filled.replace("  ", " ")
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
    elif lang == "fr":  # "bande de charlots", "sales blaireaux"
        words += tuple(
            w + ("x" if w.endswith("eau") else "s")
            for w in words
            if " " not in w and not w.endswith(("s", "x", "z"))
        )
    return tuple(dict.fromkeys(words))


def is_pattern(text: str) -> bool:
    """Whether a term row is a pattern matched as a regular expression (it kept its slots)."""
    return SLOT.search(text) is not None


def _starts(pattern: str) -> list[str]:
    """What a pattern matched as a regular expression starts with, as far as the screen needs: the
    words before its first slot, with each word of that slot when it is a closed list ("you absolute",
    "you stupid"; "your staff", "you guys")."""
    slot = SLOT.search(pattern)
    if slot is None:
        return [pattern]
    before = pattern[: slot.start()]
    words = slot.group(1).split("|")
    if OPEN_SLOT.fullmatch(slot.group(0)) or "" in words or before[-1:] not in ("", " "):
        return [before.rstrip(" '’")]
    return [f"{before}{word}" for word in words]


def _phrases(pattern: str) -> int:
    """How many phrases a pattern whose lists are written out expands to."""
    count = 1
    for slot in SLOT.finditer(pattern):
        count *= slot.group(1).count("|") + 1
    return count


def _written_out(pattern: str, lang: str, lists: dict[str, tuple[str, ...]], number: int) -> str:
    """The pattern with each named list replaced by its words: "sale {fr}" → "sale {con|cons|…}"."""
    return SLOT.sub(lambda slot: _listed(slot, lang, lists, number), pattern)


def _listed(slot: re.Match[str], lang: str, lists: dict[str, tuple[str, ...]], number: int) -> str:
    inner = slot.group(1)
    if inner.startswith("*"):
        kind, bang, name = inner.partition("!")
        return "{" + kind + bang + "|".join(_words(name, lang, lists, number) if name else ()) + "}"
    return "{" + "|".join(_words(inner, lang, lists, number)) + "}"


def open_regex(pattern: str) -> str:
    """An open pattern as a regular expression on text folded by `terms.plain_fold` or the term view:
    any repetition of each letter (the term view squeezes them), any white space between words, either
    apostrophe (a vowel after it), the open slot a word of two letters or more, optional slots with
    the space after them."""
    parts = []
    at = 0
    for slot in SLOT.finditer(pattern):
        parts.append(_literal(pattern[at : slot.start()]))
        at = slot.end()
        open_slot = OPEN_SLOT.fullmatch(slot.group(0))
        if open_slot:
            plural, but = open_slot.groups()
            if but:  # not these words (nor their plurals: the list has them)
                excluded = "|".join(sorted((_literal(w) for w in but.split("|")), key=len, reverse=True))
                parts.append(f"(?!(?:{excluded})(?![a-z]))")
            parts.append("[a-z]+[sx]" if plural else "[a-z]{2,}")
            continue
        words = [w for w in slot.group(1).split("|") if w]
        alternatives = "|".join(sorted((_literal(w) for w in words), key=len, reverse=True))
        if len(words) < len(slot.group(1).split("|")):  # an empty alternative: the slot may be left out
            parts.append(f"(?:(?:{alternatives})\\s+)?")
            if pattern.startswith(" ", at):
                at += 1
        else:
            parts.append(f"(?:{alternatives})")
    parts.append(_literal(pattern[at:]))
    return "".join(parts)


def starts_regex(starts: Iterable[str]) -> str:
    """What open patterns start with (`Term.context`'s first column), as one RE2 expression on folded
    text: a quick test before the patterns themselves, which RE2 cannot run (lookarounds)."""
    return "|".join(sorted({_literal(start, elide=False) for start in starts})) or "$^"


def _literal(text: str, elide: bool = True) -> str:
    folded = text.lower().translate(term_table())
    parts = []
    for char in folded:
        if char.isalpha():
            parts.append(f"{re.escape(char)}+")
        elif char.isspace():
            parts.append("\\s+")
        elif char in "'’":
            parts.append("['’](?=[aeiouyh])" if elide else "['’]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def builtin_rows() -> tuple[tuple[str, list[str]], ...]:
    """The expanded built-in rows; read once by `terms.builtin_terms` (cached there), not kept here: the
    terms do not share their strings, so a cache would keep ~3.5 MB for nothing."""
    data = resources.files("sav_bridge.policy").joinpath("data/contexts.tsv").read_text("utf-8")
    return tuple(expand(data.splitlines()))
