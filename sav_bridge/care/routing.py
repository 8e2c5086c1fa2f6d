"""Routing: ordered rules in `care.routing` send a message's ticket to a team, with tags, priority, fields.

```yaml
care:
  routing:
    - name: cartes
      when: {language: fr, words: ["carte bloquée"], channel: [mention, reply, dm]}
      then: {group: cards, tags: [cartes], priority: high, fields: {product: cards}}
    - name: vip
      when: {customer_tags: [vip]}
      then: {priority: high}
      continue: true        # later rules may still add to what this one gave
    - name: le reste
      when: {}              # every message
      then: {group: general}
```

Each rule has `when` (required; `{}` matches every message, so a catch-all is always written on purpose)
and `then`; every condition given in `when` must hold, and a list inside one condition holds when any of
its items does:
- `language`: "fr", "en" or a list, the customer's language;
- `words`: words or phrases found case and accents aside, as whole words ("carte bloquée" is in "Ma CARTE
  bloquee"); an entry ending in `*` also matches longer words ("rembours*");
- `patterns`: regular expressions (RE2 syntax, as in posting policies: no back-references, always fast)
  searched in the text as written; `(?i)` ignores case;
- `channel`: mention, reply, dm or a list; `account`: the brand account's id or a list of ids (several
  brand accounts on one gateway); `customer_tags`: tags the customer already has.

`then` may set `group`, `brand`, `assignee` (logical names each helpdesk plugin maps to its own ids),
`tags`, `priority` (low, normal, high, urgent) and `fields` (logical field name: value); `then: {}`
stops routing for the messages it matches. The first matching rule wins; with `continue: true`, later
rules are tried too and may add: a group, brand, assignee or field already set is kept (the earlier rule
wins), tags add up, and the highest priority stands. `sav-bridge care check "text"` says which rules match
and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from sav_bridge.care import _config
from sav_bridge.care._config import CHANNELS, LANGUAGES
from sav_bridge.care._words import Phrases, fold
from sav_bridge.errors import ConfigError
from sav_bridge.model import PRIORITY_LEVELS, TicketUpdate

KEY = "care.routing"
WHEN = ("language", "words", "patterns", "channel", "account", "customer_tags")
THEN = ("group", "brand", "assignee", "tags", "priority", "fields")

_QUIET = re2.Options()
_QUIET.log_errors = False  # RE2 would also print each syntax error on stderr; the ConfigError says it


@dataclass(frozen=True)
class Routed:
    """The merged actions of every matching rule, and for each one why it matched."""

    update: TicketUpdate
    matched: tuple[tuple[str, str], ...]  # (rule name, why: "words: 'carte bloquée'; language fr")


@dataclass(frozen=True)
class Rule:
    """One rule of `care.routing`, compiled."""

    name: str
    then: TicketUpdate
    go_on: bool = False
    language: tuple[str, ...] = ()
    words: Phrases | None = None
    patterns: tuple[tuple[str, Any], ...] = ()
    channel: tuple[str, ...] = ()
    account: tuple[str, ...] = ()
    customer_tags: tuple[str, ...] = ()

    def why(
        self, text: str, language: str, channel: str, account: str, customer_tags: Sequence[str]
    ) -> str | None:
        """Why this rule matches the message ("words: 'carte bloquée'; language fr"), None when it does not."""
        reasons: list[str] = []
        if self.language:
            if language not in self.language:
                return None
            reasons.append(f"language {language}")
        if self.words is not None:
            found = self.words.find(fold(text))
            if not found:
                return None
            reasons.append("words: " + ", ".join(repr(text[f.start : f.end]) for f in found))
        if self.patterns:
            seen = next(((src, m.group()) for src, rx in self.patterns if (m := rx.search(text))), None)
            if seen is None:
                return None
            reasons.append(f"pattern /{seen[0]}/ found {seen[1]!r}")
        if self.channel:
            if channel not in self.channel:
                return None
            reasons.append(f"channel {channel}")
        if self.account:
            if account not in self.account:
                return None
            reasons.append(f"account {account}")
        if self.customer_tags:
            tags = [t for t in self.customer_tags if t in customer_tags]
            if not tags:
                return None
            reasons.append("customer tags: " + ", ".join(tags))
        return "; ".join(reasons) or "always (when: {})"


@dataclass(frozen=True)
class Routing:
    """`care.routing`, compiled once; `route` is pure."""

    rules: tuple[Rule, ...] = field(default=())

    @classmethod
    def from_config(cls, raw_rules: Sequence[Mapping[str, Any]] | None) -> Routing:
        """ConfigError naming the place (`care.routing[2].when.patterns[0]`) on the first thing wrong."""
        if raw_rules is None:
            return cls()
        if not isinstance(raw_rules, list):
            raise ConfigError(KEY, "must be a list of rules")
        return cls(tuple(_rule(raw, f"{KEY}[{i}]") for i, raw in enumerate(raw_rules)))

    def route(
        self, text: str, language: str, channel: str, account: str, customer_tags: Sequence[str] = ()
    ) -> Routed:
        """What the rules ask of the ticket of this message, and which matched why."""
        update = TicketUpdate()
        matched: list[tuple[str, str]] = []
        for rule, why in self.trace(text, language, channel, account, customer_tags):
            if why is not None:
                matched.append((rule.name, why))
                update = merge(update, rule.then)
        return Routed(update, tuple(matched))

    def trace(
        self, text: str, language: str, channel: str, account: str, customer_tags: Sequence[str] = ()
    ) -> list[tuple[Rule, str | None]]:
        """Each rule tried, in order, with why it matched (None: it did not); the rules after the one that
        stopped routing are not tried, so not listed."""
        tried: list[tuple[Rule, str | None]] = []
        for rule in self.rules:
            why = rule.why(text, language, channel, account, customer_tags)
            tried.append((rule, why))
            if why is not None and not rule.go_on:
                break
        return tried


def merge(earlier: TicketUpdate, later: TicketUpdate) -> TicketUpdate:
    """`later` adds to `earlier`: a group, brand, assignee or field already set stays, tags add up, the
    highest priority stands (how a rule that continues meets the next, and routing meets mood)."""
    priorities = [p for p in (earlier.priority, later.priority) if p]
    return TicketUpdate(
        priority=max(priorities, key=PRIORITY_LEVELS.index) if priorities else None,
        tags=tuple(dict.fromkeys((*earlier.tags, *later.tags))),
        group=earlier.group or later.group,
        brand=earlier.brand or later.brand,
        assignee=earlier.assignee or later.assignee,
        fields={**later.fields, **earlier.fields},
    )


def _rule(raw: Any, key: str) -> Rule:
    rule = _config.section(raw, key, ("name", "when", "then", "continue"))
    if "when" not in rule:
        raise ConfigError(f"{key}.when", "is required ({} matches every message)")
    if "then" not in rule:
        raise ConfigError(f"{key}.then", "is required ({} stops routing for what the rule matches)")
    name = _config.text(rule["name"], f"{key}.name") if "name" in rule else key.removeprefix("care.")
    go_on = rule.get("continue", False)
    if not isinstance(go_on, bool):
        raise ConfigError(f"{key}.continue", "must be true or false")
    if rule["when"] is None:
        raise ConfigError(f"{key}.when", "must be a mapping ({} matches every message)")
    when = _config.section(rule["when"], f"{key}.when", WHEN)
    at = f"{key}.when"
    return Rule(
        name=name,
        then=_then(rule["then"], f"{key}.then"),
        go_on=go_on,
        language=_config.choices(when["language"], f"{at}.language", LANGUAGES) if "language" in when else (),
        words=_words(when["words"], f"{at}.words") if "words" in when else None,
        patterns=_patterns(when["patterns"], f"{at}.patterns") if "patterns" in when else (),
        channel=_config.choices(when["channel"], f"{at}.channel", CHANNELS) if "channel" in when else (),
        account=_ids(when["account"], f"{at}.account") if "account" in when else (),
        customer_tags=_config.texts(when["customer_tags"], f"{at}.customer_tags")
        if "customer_tags" in when
        else (),
    )


def _then(raw: Any, key: str) -> TicketUpdate:
    if raw is None:
        raise ConfigError(key, "must be a mapping ({} stops routing for what the rule matches)")
    then = _config.section(raw, key, THEN)
    names = {
        k: _config.text(then[k], f"{key}.{k}") if then.get(k) is not None else None
        for k in ("group", "brand", "assignee")
    }
    priority = then.get("priority")
    if priority is not None and priority not in PRIORITY_LEVELS:
        raise ConfigError(f"{key}.priority", f"must be one of {', '.join(PRIORITY_LEVELS)}")
    fields = then.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise ConfigError(f"{key}.fields", "must be a mapping of field names to values")
    for name, value in fields.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{key}.fields.{name}", "must be a string or a number")
    tags = _config.texts(then["tags"], f"{key}.tags") if "tags" in then else ()
    return TicketUpdate(
        priority=priority, tags=tags, fields={str(k): str(v) for k, v in fields.items()}, **names
    )


def _words(raw: Any, key: str) -> Phrases:
    entries = _config.texts(raw, key, one_allowed=True)
    for i, entry in enumerate(entries):
        if not any(c.isalnum() for c in entry):
            raise ConfigError(f"{key}[{i}]", "must hold a letter or a digit")
    return Phrases(entries)


def _patterns(raw: Any, key: str) -> tuple[tuple[str, Any], ...]:
    compiled = []
    for i, source in enumerate(_config.texts(raw, key, one_allowed=True)):
        try:
            compiled.append((source, re2.compile(source, _QUIET)))
        except re2.error as exc:
            raise ConfigError(f"{key}[{i}]", f"not a valid RE2 pattern ({exc})") from exc
    return tuple(compiled)


def _ids(raw: Any, key: str) -> tuple[str, ...]:
    """Account ids, written as strings or numbers (YAML reads 1234567890 as a number)."""
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConfigError(key, "must be an account id or a non-empty list of them")
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, str | int) or not str(item).strip():
            raise ConfigError(key if not isinstance(raw, list) else f"{key}[{i}]", "must be an account id")
    return tuple(str(item) for item in items)
