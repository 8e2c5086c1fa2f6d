"""Order, customer, contract and tracking references: an identifier right after the word that names it.

A reference has no checksum to confirm it, so the words before it are what make it one: "commande
CMD-2024-8841", "numéro client FR123456789", "tracking 1Z999AA10123456784", "n° 4521 889". Between the
context word and the identifier only connectors may stand ("n°", "est", "number", ":"), never free text,
so "votre commande arrive le 12/03" or "the order of 3 items" hold none. Times, prices, dates, years,
versions, percentages and quantities are not identifiers even there; phone numbers, cards and IBANs belong
to their own detectors (`taken`). The context words are the policy's, per language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import ahocorasick

from sav_bridge.policy.terms import plain_fold

# What the default policy ships; a rule's `words` replaces a language's list.
DEFAULT_WORDS: dict[str, tuple[str, ...]] = {
    "fr": (
        "commande", "cde", "cmd", "client", "identifiant", "dossier", "contrat", "suivi", "colis",
        "lettre suivie", "recommandé", "expédition", "envoi", "bordereau", "facture", "retour", "ticket",
        "réclamation", "sinistre", "adhérent", "abonné", "abonnement", "compte", "référence", "réf", "ref",
        "numéro", "n°", "nº", "№", "#",
    ),
    "en": (
        "order", "account", "customer", "id", "membership", "tracking", "parcel", "package", "shipment",
        "consignment", "waybill", "contract", "policy number", "claim", "case", "invoice", "ticket",
        "booking", "reservation", "confirmation", "subscription", "return", "rma", "reference", "ref",
        "no.", "#",
    ),
}  # fmt: skip
# Connectors that may stand between a context word and its identifier (as may other context words).
CONNECTORS = (
    "n°", "nº", "№", "no", "no.", "nr", "nr.", "num", "num.", "numéro", "number", "ref", "ref.", "réf",
    "réf.", "référence", "reference", "id", "identifiant", "code", "client", "customer", "de suivi",
    "est", "le", "la", "l'", "l’", "is", "was", "the", "your", "votre",
)  # fmt: skip
PUNCTUATION = " \t\n\u00a0\u202f.:=#(«\"“'’-–—"
MAX_GAP = 40  # characters between the context word and the identifier
MAX_CONNECTORS = 4
#: How far after a context word the first digit of its identifier may be (the screen asks the same).
DIGIT_REACH = 48

# ASCII letters and digits only: the screen's `\d` is ASCII, and so are order numbers.
TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-/._][A-Za-z0-9]+)*")
# A group of digits after an identifier with digits: "n° 4521 889".
GROUP = re.compile(r"[ \u00a0\u202f][0-9]{2,}(?![A-Za-z0-9])")
# More identifiers of a list: "commandes 4521889 et 4521890", "orders #4521, #4522 and #4523".
AND_MORE = re.compile(r"\s*(?:,|;|/|&|\bet\b|\band\b|\bou\b|\bor\b)\s*#?", re.IGNORECASE)
NOT_AN_IDENTIFIER = re.compile(
    r"\d{1,2}[hH:]\d{2}|\d{1,2}[hH]"  # times: 14h30
    r"|\d{1,2}[hHjJ]/\d{1,2}"  # opening hours: 24h/24, 7j/7
    r"|\d{1,2}[-/.]\d{1,2}(?:[-/.]\d{2,4})?|\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?"  # dates: 12/03/2024, 2024-11
    r"|(?:19|20)\d\d"  # years
    r"|[vV]?\d{1,3}(?:\.\d{1,3}){1,3}"  # versions: 2.3.1, v10.4
)
UNIT_AFTER = re.compile(
    r"[ \u00a0\u202f]?(?:[.,]\d+)?[ \u00a0\u202f]?(?:[€$£%‰]|(?:eur|euros?|usd|gbp|chf|dollars?|kg|km|cm|mm|ml|cl"
    r"|ans|years?|jours?|days?|mois|months?|heures?|hours?|min|minutes?|semaines?|weeks?|articles?|items?"
    r"|pi[eè]ces?|units?|unit[eé]s?|fois|times|pts?|points?|go|gb|mo|mb|abonn[eé]s|followers|clients"
    r"|customers|personnes|people|users|utilisateurs|commandes|orders|produits|products|likes|vues|views)"
    r"(?![A-Za-z0-9]))",
    re.IGNORECASE,
)
WORD_LIKE = re.compile(r"[a-z]{4}")  # "#BlackFriday2024" is a hashtag, not an identifier
HASH_ATTACHED = re.compile(r"[A-Z]{0,3}[0-9]")  # "#A78-221", "#4521"; not "#Noel2024"


@dataclass(slots=True)  # made for every candidate: a frozen dataclass's __init__ costs 3x
class ReferenceMatch:
    start: int
    end: int
    value: str


def context_words(words: Mapping[str, Sequence[str]] | None) -> tuple[str, ...]:
    """The context words of a rule: the built-in lists, each language replaced by the rule's own."""
    lists = {**DEFAULT_WORDS, **(words or {})}
    return tuple(sorted({w.strip() for ws in lists.values() for w in ws if w.strip()}))


def _alternation(words: Iterable[str]) -> str:
    """Folded words as one regex: flexible gaps in phrases, plurals and French feminines, whole words."""
    parts = []
    for word in sorted({plain_fold(w) for w in words}, key=len, reverse=True):
        body = r"[\s\-'’]+".join(re.escape(piece) for piece in word.split())
        left = r"(?<![a-z0-9])" if word[0].isalnum() else ""
        right = r"(?:e?s|e)?(?![a-z0-9])" if word[-1].isalnum() else ""  # abonnée, recommandées
        parts.append(f"{left}{body}{right}")
    return "|".join(parts)


def _starts_of(words: Iterable[str]) -> ahocorasick.Automaton:
    """Where a context word may start: the first piece of each folded word, for `References._contexts`."""
    starts = ahocorasick.Automaton()
    for word in {plain_fold(w).split()[0] for w in words if w.split()}:
        starts.add_word(word, len(word))
    starts.make_automaton()
    return starts


class References:
    """One `reference` detector: its context words compiled, and the identifiers they introduce."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(words)
        self._context = re.compile(_alternation(self.words), re.IGNORECASE)
        self._connector = re.compile(_alternation((*CONNECTORS, *self.words)), re.IGNORECASE)
        self._first_pieces = _starts_of(self.words)

    def find(self, text: str, taken: Sequence[tuple[int, int]] = ()) -> list[ReferenceMatch]:
        """Every identifier a context word introduces, outside the spans other detectors own."""
        folded = plain_fold(text)
        found: list[ReferenceMatch] = []
        for context in self._contexts(folded):
            if found and context.start() < found[-1].end:
                continue
            found.extend(self._after(text, folded, context.end(), context.group(0) == "#", taken))
        return found

    def _contexts(self, folded: str) -> Iterator[re.Match[str]]:
        """`self._context.finditer(folded)`, but the regex is tried only where a context word's first
        piece starts (Aho-Corasick): a long alternation scanned at every position cost 77 µs a text."""
        low = folded.lower()
        if len(low) != len(folded):  # a rare letter whose lower case is longer: offsets would drift
            yield from self._context.finditer(folded)
            return
        reached = 0
        for start in sorted({end - length + 1 for end, length in self._first_pieces.iter(low)}):
            if start >= reached and (context := self._context.match(folded, start)) is not None:
                reached = context.end()
                yield context

    def _after(
        self, text: str, folded: str, at: int, hashed: bool, taken: Sequence[tuple[int, int]]
    ) -> Iterator[ReferenceMatch]:
        start = self._skip_connectors(folded, at)
        if start is None or start - at > MAX_GAP:
            return
        if hashed and start == at and not HASH_ATTACHED.match(text, start):
            return
        first = True
        while True:
            match = self._identifier(text, start, taken, reach=at + DIGIT_REACH if first else None)
            if match is None:
                return
            yield match
            first = False
            more = AND_MORE.match(text, match.end)
            if more is None or more.end() == match.end:
                return
            start = more.end()

    def _skip_connectors(self, folded: str, at: int) -> int | None:
        i, used = at, 0
        while i < len(folded):
            if folded[i] in PUNCTUATION:
                i += 1
                continue
            token = TOKEN.match(folded, i)
            if token and any(c.isdigit() for c in token.group(0)):
                return i  # "CMD-2024-8841": a prefix is part of its identifier
            connector = self._connector.match(folded, i)
            if connector is None or used == MAX_CONNECTORS:
                return i
            i, used = connector.end(), used + 1
        return None

    def _identifier(
        self, text: str, start: int, taken: Sequence[tuple[int, int]], reach: int | None
    ) -> ReferenceMatch | None:
        token = TOKEN.match(text, start)
        if token is None:
            return None
        ends = [token.end()]
        if any(c.isdigit() for c in token.group(0)):
            while group := GROUP.match(text, ends[-1]):
                ends.append(group.end())
        # Other detectors' data ends it: in "Réf 4521 06 12 34 56 78" the phone number is not the reference.
        owned = [low for low, high in taken if start < high and low < ends[-1]]
        if owned:
            ends = [end for end in ends if end <= min(owned)]
        while ends and UNIT_AFTER.match(text, ends[-1]):  # a quantity: "4521889 12 articles" keeps 4521889
            ends.pop()
        if not ends:
            return None
        value = text[start : ends[-1]]
        digits = sum(c.isdigit() for c in value)
        if digits < 3 or (digits == 3 and value.isdigit()) or WORD_LIKE.search(value):
            return None
        if reach is not None and start + next(i for i, c in enumerate(value) if c.isdigit()) > reach:
            return None
        if NOT_AN_IDENTIFIER.fullmatch(value):
            return None
        return ReferenceMatch(start, ends[-1], value)
