"""The rules of a policy document, compiled: what each detects, for whom, and what to do about it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import re2

from sav_bridge.model import Audience, Finding
from sav_bridge.policy.masking import mask_number, mask_reference
from sav_bridge.policy.references import References, context_words
from sav_bridge.policy.terms import Term, plain_fold

ANY: Any = object()  # a `terms` option the rule does not set
_QUIET = re2.Options()
_QUIET.log_errors = False  # RE2 would also log each syntax error to stderr from C++; we say it once


def pattern_source(spec: Mapping[str, Any]) -> str:
    """What a `pattern` detector compiles to: its regex under its case flag."""
    regex: str = spec["regex"]
    return ("(?i)" if spec.get("ignore_case", True) else "(?-i)") + regex


def compile_pattern(source: str) -> Any:
    """`re2.compile` that raises `re2.error` without writing anything on stderr."""
    return re2.compile(source, _QUIET)


@dataclass(frozen=True)
class Rule:
    """One rule of a policy document, with its detector's settings."""

    id: str
    kind: str
    audiences: frozenset[Audience]
    action: str
    detector: Mapping[str, Any]
    switch_to_dm: bool = False
    advice: str = ""
    #: What the rule is for, in the words of whoever wrote it (the console shows it).
    description: str = ""

    @classmethod
    def from_document(cls, data: Mapping[str, Any]) -> Rule:
        audience = data.get("audience", ["public", "dm"])
        audiences = [audience] if isinstance(audience, str) else audience
        (kind, settings), *_ = data["detector"].items()
        return cls(
            id=data["id"],
            kind=kind,
            audiences=frozenset(Audience(a) for a in audiences),
            action=data["action"],
            detector={kind: settings},
            switch_to_dm=bool(data.get("switch_to_dm", False)),
            advice=data.get("advice", ""),
            description=data.get("description", ""),
        )

    def selects(self, term: Term) -> bool:
        """Whether a term found in the text is this rule's to report."""
        if term.rule is not None:
            return term.rule == self.id
        only_extra, languages, categories, severity = self._selection
        return (
            not only_extra
            and (languages is ANY or term.lang in languages)
            and (categories is ANY or term.category in categories)
            and (severity is ANY or term.severity == severity)
        )

    @cached_property
    def _selection(self) -> tuple[bool, Any, Any, Any]:
        """A `terms` detector's options, read once: only extra terms; the languages, categories and
        severity it keeps (ANY when it does not say)."""
        options: Mapping[str, Any] = self.detector["terms"] or {}
        return (
            set(options) == {"extra"},
            options.get("languages", ANY),
            options.get("categories", ANY),
            options.get("severity", ANY),
        )


@dataclass(frozen=True)
class Pattern:
    """A custom RE2 pattern whose confidence words nearby raise or lower."""

    rule: Rule
    source: str
    regex: Any
    category: str
    confidence: float
    min_confidence: float
    words: tuple[str, ...]
    against: tuple[str, ...]
    window: int
    boost: float

    @classmethod
    def from_rule(cls, rule: Rule) -> Pattern:
        spec = rule.detector["pattern"]
        context = spec.get("context", {})
        source = pattern_source(spec)
        return cls(
            rule=rule,
            source=source,
            regex=compile_pattern(source),
            category=spec.get("category", "custom"),
            confidence=spec.get("confidence", 0.8),
            min_confidence=spec.get("min_confidence", 0.5),
            words=tuple(plain_fold(w) for w in context.get("words", ())),
            against=tuple(plain_fold(w) for w in context.get("against", ())),
            window=context.get("window", 40),
            boost=context.get("boost", 0.3),
        )

    def findings(self, text: str) -> Iterable[Finding]:
        for match in self.regex.finditer(text):
            start, end = match.span()
            if start == end:
                continue
            confidence = self._confidence(text, start, end)
            if confidence >= self.min_confidence:
                yield Finding(
                    self.rule.id,
                    self.category,
                    self.rule.action,
                    start,
                    end,
                    detail=mask_number(match.group(0)),
                    confidence=round(confidence, 3),
                )

    def _confidence(self, text: str, start: int, end: int) -> float:
        if not self.words and not self.against:
            return self.confidence
        near = plain_fold(text[max(0, start - self.window) : end + self.window])
        near_words = set(re.findall(r"\w+", near))
        confidence = self.confidence
        if any(_mentions(w, near, near_words) for w in self.words):
            confidence += self.boost
        if any(_mentions(w, near, near_words) for w in self.against):
            confidence -= self.boost
        return max(0.0, min(1.0, confidence))


@dataclass(frozen=True)
class Reference:
    """A `reference` rule compiled: the identifiers its context words introduce, masked but their tail."""

    rule: Rule
    detector: References
    keep: int

    @classmethod
    def from_rule(cls, rule: Rule) -> Reference:
        spec = rule.detector["reference"] or {}
        return cls(rule, References(context_words(spec.get("words"))), spec.get("keep", 4))

    def findings(self, text: str, taken: list[tuple[int, int]]) -> Iterable[Finding]:
        for match in self.detector.find(text, taken):
            yield Finding(
                self.rule.id,
                "reference",
                self.rule.action,
                match.start,
                match.end,
                detail=mask_reference(match.value, self.keep),
            )


def _mentions(word: str, near: str, near_words: set[str]) -> bool:
    return word in near_words if word.isalnum() else word in near


@dataclass(frozen=True)
class RuleSet:
    """The rules of one audience, grouped by detector."""

    pii: dict[str, tuple[Rule, ...]]
    pii_kinds: frozenset[str]
    terms: tuple[Rule, ...]
    patterns: tuple[tuple[int, Pattern], ...]  # with the pattern's index in the screen
    allow: re.Pattern[str] | None
    references: tuple[tuple[int, Reference], ...] = ()  # with the detector's index in the screen
    #: The phrases of `allow` (folded): a text that holds none of them needs no look for exceptions.
    allowed: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        rules: Iterable[Rule],
        compiled: Mapping[str, tuple[int, Pattern]],
        references: Mapping[str, tuple[int, Reference]] | None = None,
    ) -> RuleSet:
        pii_rules: dict[str, list[Rule]] = {}
        terms: list[Rule] = []
        patterns: list[tuple[int, Pattern]] = []
        referring: list[tuple[int, Reference]] = []
        allowed: list[str] = []
        for rule in rules:
            if rule.kind == "pii":
                pii_rules.setdefault(rule.detector["pii"], []).append(rule)
            elif rule.kind == "terms":
                terms.append(rule)
            elif rule.kind == "pattern":
                patterns.append(compiled[rule.id])
            elif rule.kind == "reference":
                referring.append((references or {})[rule.id])
            else:
                allowed.extend(plain_fold(p) for p in rule.detector["allow"])
        allow = None
        if allowed:
            words = "|".join(re.escape(p) for p in sorted(allowed, key=len, reverse=True))
            allow = re.compile(rf"(?<!\w)(?:{words})(?!\w)")
        return cls(
            {k: tuple(v) for k, v in pii_rules.items()},
            frozenset(pii_rules),
            tuple(terms),
            tuple(patterns),
            allow,
            tuple(referring),
            tuple(allowed),
        )
