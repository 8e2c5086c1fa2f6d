"""A compiled posting policy: `decide(text, audience)` says what may be posted, and why.

Pure and synchronous: no I/O after the policy is loaded. For each audience the applicable rules are
chosen once, at load time. A decision starts with one RE2 pass (`screen`) that names the detectors
worth running; most replies need none. Then at most one PII pass, one term scan (all term rules share
one automaton) and one RE2 search per custom pattern the screen saw.

Precedence: block > require_dm > redact > warn. An `allow` rule is an exception: findings that
overlap its words are dropped. A `redact` masks the spans (keeping the last four digits of numbers)
and checks the masked text again; whatever is still found then blocks the reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from sav_bridge.model import Audience, Decision, Finding
from sav_bridge.policy import phones, pii
from sav_bridge.policy.document import load_document, parse_document
from sav_bridge.policy.masking import hide_word, preview, redact
from sav_bridge.policy.references import CONNECTORS
from sav_bridge.policy.rules import Pattern, Reference, Rule, RuleSet
from sav_bridge.policy.screen import (
    CONTEXT,
    DISGUISE,
    TERM,
    Screen,
    pattern_reason,
    personal_kinds,
    reference_pattern,
    reference_reason,
    term_languages,
    written_plainly,
)
from sav_bridge.policy.terms import Lexicon, Term, TermMatch, builtin_terms, guess_language, plain_fold

MAX_PLANS = 1024  # kinds of look kept: a handful in practice
RANK = {"allow": 0, "warn": 1, "redact": 2, "hold": 3, "require_dm": 4, "block": 5}
LABELS = {
    "card": "payment card",
    "iban": "IBAN",
    "nir": "social security number (NIR)",
    "email": "e-mail address",
    "phone": "phone number",
    "vulgar": "vulgar term",
    "sexual": "sexual term",
    "insult": "insult",
    "custom": "custom term",
    "reference": "order, customer or tracking reference",
}
VERBS = {
    "block": "blocked",
    "require_dm": "allowed only as a DM",
    "hold": "held for approval",
    "redact": "masked",
    "warn": "warning",
}


@lru_cache(maxsize=8)
def _lexicon(extras: tuple[Term, ...]) -> Lexicon:
    """The built-in terms and a policy's own, compiled once per process (0.8 s: thousands of expanded
    context patterns); every policy version with the same extra terms shares it."""
    return Lexicon([*builtin_terms(), *extras])


@lru_cache(maxsize=8)
def _screen(
    extras: tuple[Term, ...], patterns: tuple[str, ...], phone_region: str, references: tuple[str, ...]
) -> Screen:
    """The screen for these terms and patterns, compiled once per process (RE2 over every term)."""
    return Screen(_lexicon(extras).terms, patterns, phone_region, references)


def drop_unused_terms() -> None:
    """Forget the built-in terms while no lexicon holds them: validating a document reads them (does a
    terms rule select any?), and a process that compiles its policy on demand (`policy.live`) need not
    keep them (~6 MB) until it compiles one."""
    if not _lexicon.cache_info().currsize:
        builtin_terms.cache_clear()


class Policy:
    """A validated policy document, compiled for fast decisions."""

    def __init__(
        self, document: Mapping[str, Any], source: str = "<policy>", text: str | None = None, label: str = ""
    ) -> None:
        self.source = source
        #: The YAML it was compiled from (what the store keeps as a version), when it came from text.
        self.text = text
        #: What decisions, notes and audit rows name: the document's `version`, with the store's version
        #: number when it came from the store ("2026.11-1 (v3)").
        self.version: str = f"{document['version']} ({label})" if label else document["version"]
        self.name: str = document.get("name", "")
        settings = document.get("settings", {})
        self.phone_region: str = settings.get("phone_region", "FR")
        #: The brand's own published numbers (`settings.service_numbers`), in E.164 or digits: never findings.
        self.service_numbers = frozenset(
            phones.service_key(number, self.phone_region) for number in settings.get("service_numbers", ())
        )
        self.rules = tuple(Rule.from_document(r) for r in document["rules"])
        self._by_id = {r.id: r for r in self.rules}
        extras = [
            Term(text, "any", "custom", rule.action, rule=rule.id)
            for rule in self.rules
            if rule.kind == "terms"
            for text in (rule.detector["terms"] or {}).get("extra", ())
        ]
        self.lexicon = _lexicon(tuple(extras))
        patterns = [Pattern.from_rule(rule) for rule in self.rules if rule.kind == "pattern"]
        compiled = {pattern.rule.id: (index, pattern) for index, pattern in enumerate(patterns)}
        references = [Reference.from_rule(rule) for rule in self.rules if rule.kind == "reference"]
        referring = {reference.rule.id: (index, reference) for index, reference in enumerate(references)}
        #: How many last characters each `reference` rule leaves visible when it masks.
        self._keep = {reference.rule.id: reference.keep for reference in references}
        self._screen = _screen(
            tuple(extras),
            tuple(pattern.source for pattern in patterns),
            self.phone_region,
            tuple(reference_pattern(reference.detector.words, CONNECTORS) for reference in references),
        )
        self._rules = {
            a: RuleSet.of((r for r in self.rules if a in r.audiences), compiled, referring) for a in Audience
        }
        self._plans: dict[tuple[frozenset[str], Audience], _Plan] = {}

    @classmethod
    def from_file(cls, path: Path) -> Policy:
        return cls(load_document(path), str(path), path.read_text(encoding="utf-8"))

    @classmethod
    def from_text(cls, text: str, source: str = "<policy>", label: str = "") -> Policy:
        return cls(parse_document(text, source), source, text, label)

    def decide(self, text: str, audience: Audience) -> Decision:
        """The action for `text` read by `audience`, the text to post (None when nothing may be), and why."""
        findings = self.findings(text, audience)
        if not findings:  # most replies
            return Decision("allow", text, findings, self.version)
        action = _strongest(findings, audience)
        if action == "block":
            return Decision("block", None, findings, self.version)
        if action == "require_dm":
            return self._require_dm(text, findings)
        if action == "redact":
            return self._redact(text, audience, findings)
        if action == "hold":  # posted only once a second person approves it, masked where rules say so
            return self._hold(text, audience, findings)
        return Decision(action, text, findings, self.version)

    def findings(self, text: str, audience: Audience, screened: bool = True) -> tuple[Finding, ...]:
        """Everything the rules of this audience see in `text`, allow rules applied.

        `screened=False` runs every detector whatever the screen says: the same result, slower
        (tests hold the screen to that)."""
        look = self._screen.look(text) if screened else self._screen.everything
        if not look:
            return ()  # most replies: one RE2 pass and nothing to look at
        rules = self._rules[audience]
        plan = self._plan(look, audience)
        found: list[Finding] = []
        owned: list[tuple[int, int]] = []  # personal data a reference may not claim (a phone, a card)
        if plan.kinds:
            for personal in pii.find(text, plan.kinds, self.phone_region, self.service_numbers, plan.plain):
                found.extend(_pii_finding(rule, personal) for rule in rules.pii[personal.kind])
                owned.append((personal.start, personal.end))
        for reference in plan.references:
            found.extend(reference.findings(text, owned))
        if plan.scan and (plan.terms or guess_language(text) in plan.scoped):
            matches = self.lexicon.scan(text, thorough=plan.thorough)
            if plan.aimed and not matches:  # "you tooll": a doubled letter only the term view undoes
                matches = self.lexicon.scan(text, thorough=True)
            for term in matches:
                if not _initials(text, term):
                    found.extend(_term_finding(rule, term) for rule in rules.terms if rule.selects(term.term))
        for pattern in plan.patterns:
            found.extend(pattern.findings(text))
        if not found:
            return ()
        if rules.allow is not None:
            folded = plain_fold(text)
            if any(phrase in folded for phrase in rules.allowed):
                exempt = [m.span() for m in rules.allow.finditer(folded)]
                found = [f for f in found if not any(s < f.end and f.start < e for s, e in exempt)]
        return tuple(sorted(found, key=lambda f: (f.start, -RANK[f.action])))

    def _plan(self, look: frozenset[str], audience: Audience) -> _Plan:
        """What the rules of `audience` run for what the screen saw, worked out once per kind of look."""
        key = (look, audience)
        plan = self._plans.get(key)
        if plan is None:
            plan = _Plan.of(look, self._rules[audience])
            if len(self._plans) < MAX_PLANS:
                self._plans[key] = plan
        return plan

    def _require_dm(self, text: str, findings: tuple[Finding, ...]) -> Decision:
        """A public reply that may only go as a DM: held, or decided again for the DM audience."""
        if not any(self._by_id[f.rule].switch_to_dm for f in findings if f.action == "require_dm"):
            return Decision("require_dm", None, findings, self.version)
        as_dm = self.decide(text, Audience.DM)
        if as_dm.action == "block":
            return replace(as_dm, findings=findings + as_dm.findings)
        if as_dm.action == "hold":  # never sent unapproved: the agent sends it as a DM, where it waits
            return Decision("require_dm", None, findings + as_dm.findings, self.version)
        return Decision("require_dm", as_dm.text, findings + as_dm.findings, self.version, switch_to_dm=True)

    def _redact(self, text: str, audience: Audience, findings: tuple[Finding, ...]) -> Decision:
        redacted = redact(text, [f for f in findings if f.action == "redact"], self._keep)
        # What masking cannot settle (a hold waits for approval whatever is masked).
        still = [
            f
            for f in self.findings(redacted, audience)
            if RANK[f.action] >= RANK["redact"] and f.action != "hold"
        ]
        if still:
            leftovers = tuple(replace(f, revealed_by=(*f.revealed_by, "after redaction")) for f in still)
            return Decision("block", None, findings + leftovers, self.version)
        return Decision("redact", redacted, findings, self.version)

    def _hold(self, text: str, audience: Audience, findings: tuple[Finding, ...]) -> Decision:
        masking = [f for f in findings if f.action == "redact"]
        if not masking:
            return Decision("hold", text, findings, self.version)
        masked = self._redact(text, audience, tuple(f for f in findings if f.action != "hold"))
        return masked if masked.action == "block" else Decision("hold", masked.text, findings, self.version)

    def explain(self, decision: Decision) -> str:
        """What the agent reads in the ticket: each finding, where it is, and what to do."""
        lines = []
        for finding in decision.findings:
            rule = self._by_id.get(finding.rule)
            label = LABELS.get(finding.category, finding.category)
            what = f"{label} {finding.detail}".strip()
            where = f"characters {finding.start + 1}–{finding.end}"
            verb = VERBS.get(finding.action, finding.action)
            line = f"• {verb}: {what} ({where}; rule {finding.rule}, policy {decision.policy_version})"
            if finding.revealed_by:
                line += f", seen after {', '.join(finding.revealed_by)}"
            if rule and rule.advice and RANK[finding.action] >= RANK["redact"]:
                line += f". {rule.advice}"
            lines.append(line)
        if decision.action == "redact":
            lines.append("The reply was posted with these parts masked.")
        if decision.switch_to_dm and decision.text is not None:
            lines.append("The reply was sent as a DM instead of a public post.")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Plan:
    """The detectors one audience's rules run for one set of reasons the screen gave."""

    kinds: frozenset[str]  # personal data worth looking for
    plain: bool  # no character the PII view changes
    references: tuple[Reference, ...]
    patterns: tuple[Pattern, ...]
    scan: bool  # the term rules may find something: always with `terms`, else in a `scoped` language
    terms: bool
    scoped: frozenset[str]  # one-language terms count only in a text of that language
    thorough: bool  # the term scan may skip its fast path
    aimed: bool  # "you …", "espèce de …": the plain scan will tell, unless disguised

    @classmethod
    def of(cls, look: frozenset[str], rules: RuleSet) -> _Plan:
        aimed = CONTEXT in look
        scoped = term_languages(look)
        terms = TERM in look or DISGUISE in look or aimed
        return cls(
            kinds=personal_kinds(look, rules.pii_kinds),
            plain=written_plainly(look),
            references=tuple(r for i, r in rules.references if reference_reason(i) in look),
            patterns=tuple(p for i, p in rules.patterns if pattern_reason(i) in look),
            scan=bool(rules.terms) and (terms or bool(scoped)),
            terms=terms,
            scoped=scoped,
            thorough=TERM in look or not (DISGUISE in look or aimed),
            aimed=aimed,
        )


def _initials(text: str, term: TermMatch) -> bool:
    """An agent's initials typed as a signature ("… ^PD", "^TG"): never a term."""
    return term.start > 0 and text[term.start - 1] == "^" and term.end - term.start <= 4


def _strongest(findings: Iterable[Finding], audience: Audience) -> str:
    best = "allow"
    for finding in findings:
        action = finding.action
        if action == "require_dm" and audience is Audience.DM:
            action = "warn"  # already private: the rule is satisfied
        if RANK[action] > RANK[best]:
            best = action
    return best


def _pii_finding(rule: Rule, match: pii.PiiMatch) -> Finding:
    return Finding(
        rule.id,
        match.kind,
        rule.action,
        match.start,
        match.end,
        detail=preview(match.kind, match.value),
        revealed_by=match.revealed_by,
        validators=dict(match.validators),
    )


def _term_finding(rule: Rule, match: TermMatch) -> Finding:
    language = f", {match.term.lang}" if match.term.lang in ("fr", "en") else ""
    return Finding(
        rule.id,
        match.term.category,
        rule.action,
        match.start,
        match.end,
        detail=f"«{hide_word(match.term.text)}»{language}",
        revealed_by=match.revealed_by,
    )
