"""Policy documents: YAML validated by `schemas/policy.schema.json`, then by what a schema cannot say.

`examine` finds every problem at once, each a `PolicyError` pointing at the line and key: schema errors,
repeated keys, an unknown `phone_region`, RE2 syntax, and rules that can never fire. `parse_document`
and `load_document` raise the first of them (naming how many more), for start-up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import phonenumbers
import re2
import yaml

from sav_bridge import SCHEMA_DIR
from sav_bridge.errors import PolicyError
from sav_bridge.model import Audience
from sav_bridge.policy.phones import service_number_problem
from sav_bridge.policy.references import context_words
from sav_bridge.policy.rules import Rule, compile_pattern, pattern_source
from sav_bridge.policy.terms import builtin_terms

KeyPath = list[Any]  # a key path: mapping keys and list indexes
RE2_HINTS = {
    "invalid perl operator": "RE2 has no look-around",
    "invalid escape sequence": "RE2 has no backreferences; escape other characters as usual",
    "pattern too large": "shorten the counted repetitions",
}
REGION_SLIPS = {"UK": "GB", "EN": "GB"}
PATTERN_WORDS = {
    "^[a-z0-9][a-z0-9_.-]*$": "must be lower-case letters, digits, '-', '_' or '.', starting with a letter or digit",
    "^[a-z]{2}$": "must be a two-letter language code in lower case (fr, en, de, …)",
}


@cache
def policy_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / "policy.schema.json").read_text(encoding="utf-8"))
    return schema


def load_document(path: Path) -> dict[str, Any]:
    return _first(*read_document(path))


def parse_document(text: str, source: str = "<policy>") -> dict[str, Any]:
    """Parse and validate a policy; `PolicyError` names the line and key of the first problem."""
    return _first(*examine(text, source))


def read_document(path: Path) -> tuple[dict[str, Any] | None, list[PolicyError]]:
    """`examine` for a file; one problem when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return None, [PolicyError(str(path), None, "", f"cannot read: {reason}")]
    return examine(text, str(path))


def examine(text: str, source: str = "<policy>") -> tuple[dict[str, Any] | None, list[PolicyError]]:
    """The document and every problem in it, in line order; the document is valid when there are none."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None)
        what = f"not valid YAML: {problem}" if problem else "not valid YAML"
        return None, [PolicyError(source, mark.line + 1 if mark else None, "", what)]
    except (ValueError, OverflowError, RecursionError) as exc:  # a date like 2026-13-45, nesting too deep
        return None, [PolicyError(source, None, "", f"not valid YAML: {str(exc)[:200] or 'nested too deep'}")]
    if not isinstance(data, dict):
        return None, [PolicyError(source, 1, "", "a policy is a mapping with version and rules")]
    found: dict[tuple[int, str, str], PolicyError] = {}

    def report(path: KeyPath, problem: str, line: int | None = None) -> None:
        error = PolicyError(source, line or _line(root, path), _key(path), problem)
        found.setdefault((error.line or 0, error.key, problem), error)

    for path, problem, line in _repeated_keys(root, []):
        report(path, problem, line)
    schema_paths = []
    for path, problem in _schema_problems(data):
        schema_paths.append(path)
        report(path, problem)
    for path, problem in _meaning_problems(data, schema_paths):
        report(path, problem)
    return data, [found[k] for k in sorted(found)]


def _first(data: dict[str, Any] | None, problems: list[PolicyError]) -> dict[str, Any]:
    if not problems and data is not None:
        return data
    first = problems[0]
    if len(problems) == 1:
        raise first
    more = f"{first.problem} (and {len(problems) - 1} more: sav-bridge policy validate {first.source})"
    raise PolicyError(first.source, first.line, first.key, more)


def _schema_problems(data: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    for error in jsonschema.Draft202012Validator(policy_schema()).iter_errors(data):
        error = _deepest(error)
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema: Any = error.schema
            known = list(schema.get("properties", {}))
            for name in sorted(set(error.instance) - set(known), key=str):
                yield [*path, name], "unknown key; expected one of " + ", ".join(known)
        elif error.validator == "pattern" and path == ["settings", "phone_region"]:
            continue  # _region says more
        elif "propertyNames" in error.relative_schema_path:  # a bad key: say it at its own line
            yield [*path, error.instance], _problem(error)
        else:
            yield path, _problem(error)


def _meaning_problems(data: dict[str, Any], schema_paths: list[KeyPath]) -> Iterator[tuple[KeyPath, str]]:
    """What the schema cannot say; a rule with a schema error is not judged again here."""
    settings = data.get("settings")
    if isinstance(settings, dict) and isinstance(settings.get("phone_region"), str):
        problem = _region(settings["phone_region"])
        if problem:
            yield ["settings", "phone_region"], problem
    if isinstance(settings, dict) and not any(p[:2] == ["settings", "service_numbers"] for p in schema_paths):
        region = settings.get("phone_region", "FR")
        if region in phonenumbers.SUPPORTED_REGIONS:
            for index, number in enumerate(settings.get("service_numbers", ())):
                problem = service_number_problem(number, region)
                if problem:
                    yield ["settings", "service_numbers", index], problem
    rules = data.get("rules")
    if not isinstance(rules, list):
        return
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if isinstance(rule_id, str):
            if rule_id in seen:
                yield (
                    ["rules", index, "id"],
                    f"duplicate rule id {rule_id!r} (first at rules[{seen[rule_id]}])",
                )
            seen.setdefault(rule_id, index)
        if not any(p[:2] == ["rules", index] for p in schema_paths):
            yield from _rule_problems(index, rule)


def _region(region: str) -> str:
    if region in phonenumbers.SUPPORTED_REGIONS:
        return ""
    if region.upper() in phonenumbers.SUPPORTED_REGIONS:
        return f"write the region in capitals: {region.upper()}"
    hint = f" (did you mean {REGION_SLIPS[region.upper()]}?)" if region.upper() in REGION_SLIPS else ""
    return f"unknown region {region!r}{hint}; use a two-letter ISO 3166 code such as FR, BE, CH, GB, US"


def _rule_problems(index: int, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """RE2 syntax, and settings under which a well-formed rule can never fire."""
    at = ["rules", index]
    rule = Rule.from_document(data)
    name = f"rule {rule.id!r}"
    if rule.action == "require_dm" and rule.audiences == {Audience.DM}:
        yield (
            [*at, "audience"],
            (
                f"{name} can never fire: require_dm never holds a DM (it is already private); "
                "use audience public, or action warn or block for DMs"
            ),
        )
    if rule.switch_to_dm and rule.action != "require_dm":
        yield (
            [*at, "switch_to_dm"],
            (
                f"{name} never switches to DM: switch_to_dm works only with action require_dm, not {rule.action}"
            ),
        )
    extra = rule.kind == "terms" and (rule.detector["terms"] or {}).get("extra")
    if rule.kind == "terms" and not extra and not any(rule.selects(t) for t in builtin_terms()):
        yield (
            [*at, "detector", "terms"],
            (
                f"{name} can never fire: no built-in term has these languages, categories and severity, "
                "and there are no extra words"
            ),
        )
    if rule.kind == "pattern":
        yield from _pattern_problems([*at, "detector", "pattern"], name, rule.detector["pattern"])
    if rule.kind == "reference":
        yield from _reference_problems([*at, "detector", "reference"], name, rule.detector["reference"] or {})


def _pattern_problems(at: KeyPath, name: str, spec: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    try:
        compile_pattern(spec["regex"])  # alone first, so that RE2 quotes the author's text
        compile_pattern(pattern_source(spec))
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else "rejected"
        hint = next((f" ({h})" for start, h in RE2_HINTS.items() if reason.startswith(start)), "")
        yield [*at, "regex"], f"{name} is not a valid RE2 expression: {reason}{hint}"
        return
    context = spec.get("context", {})
    confidence = spec.get("confidence", 0.8)
    boost = context.get("boost", 0.3) if context.get("words") else 0.0
    best = min(1.0, confidence + boost)
    floor = spec.get("min_confidence", 0.5)
    if best < floor:
        key = "min_confidence" if "min_confidence" in spec else "confidence"
        if boost:
            why = f"reaches at most {round(best, 3)} ({confidence} + boost {boost} near context.words)"
        else:
            why = f"{confidence} is all it reaches (no context.words raise it)"
        yield [*at, key], f"{name} can never fire: its confidence {why}, below min_confidence {floor}"


def _reference_problems(at: KeyPath, name: str, spec: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    words = spec.get("words") or {}
    for lang, listed in words.items():
        for index, word in enumerate(listed):
            if not any(c.isalnum() for c in word) and word.strip() not in ("#", "№"):
                yield (
                    [*at, "words", lang, index],
                    f"{name}: the context word {word!r} has no letter or digit (only # and № may go without)",
                )
    if not context_words(words):
        yield [*at, "words"], f"{name} can never fire: every language's list of context words is empty"


def _repeated_keys(node: yaml.Node | None, path: KeyPath) -> Iterator[tuple[KeyPath, str, int]]:
    """YAML keeps the last of two equal keys without a word; a policy author means one of them."""
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in first:
                    yield (
                        [*path, key.value],
                        (f"repeated key (first at line {first[key.value]}); only the last one would count"),
                        key.start_mark.line + 1,
                    )
                first.setdefault(key.value, key.start_mark.line + 1)
            yield from _repeated_keys(value, [*path, getattr(key, "value", "?")])
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _repeated_keys(item, [*path, index])


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def _key(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _line(root: yaml.Node | None, path: KeyPath) -> int | None:
    """The line of the key (or list item) at `path`, else of the nearest enclosing one that exists."""
    if root is None:
        return None
    node: yaml.Node = root
    line = root.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            pair = next((p for p in node.value if getattr(p[0], "value", None) == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _problem(error: jsonschema.ValidationError) -> str:
    expected: Any = error.validator_value
    instance: Any = error.instance
    if error.validator == "enum":
        return "must be one of " + ", ".join(map(str, expected))
    if error.validator == "required":
        missing = [k for k in expected if k not in (instance or {})]
        if len(missing) == 1:
            return f"{missing[0]} is required"
        return f"{', '.join(missing[:-1])} and {missing[-1]} are required"
    if error.validator == "const":
        return f"must be {expected!r} here"
    if error.validator in ("minProperties", "maxProperties"):
        return "a detector has exactly one of pii, terms, pattern, reference, allow"
    if error.validator == "pattern":
        return PATTERN_WORDS.get(expected, f"must match {expected}")
    if error.validator == "type":
        return f"must be of type {expected}"
    return error.message
