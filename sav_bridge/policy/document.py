"""Policy documents: YAML validated by `schemas/policy.schema.json`, errors pointing at line and key."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import re2
import yaml

from sav_bridge import SCHEMA_DIR
from sav_bridge.errors import PolicyError


@cache
def policy_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / "policy.schema.json").read_text(encoding="utf-8"))
    return schema


def load_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), None, "", f"cannot read: {exc.strerror}") from None
    return parse_document(text, str(path))


def parse_document(text: str, source: str = "<policy>") -> dict[str, Any]:
    """Parse and validate a policy; `PolicyError` names the line and key of the first problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError(source, mark.line + 1 if mark else None, "", "not valid YAML") from None
    if not isinstance(data, dict):
        raise PolicyError(source, 1, "", "a policy is a mapping with version and rules")
    validator = jsonschema.Draft202012Validator(policy_schema())
    errors = sorted(
        validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        error = _deepest(errors[0])
        path = list(error.absolute_path)
        raise PolicyError(source, _line(root, path), _key(path), _problem(error))
    seen: dict[str, int] = {}
    for index, rule in enumerate(data["rules"]):
        if rule["id"] in seen:
            raise PolicyError(source, _line(root, ["rules", index, "id"]), f"rules[{index}].id",
                              f"duplicate rule id {rule['id']!r} (first at rules[{seen[rule['id']]}])")  # fmt: skip
        seen[rule["id"]] = index
        pattern = rule["detector"].get("pattern")
        if pattern:
            try:
                re2.compile(pattern["regex"])
            except re2.error as exc:
                where = ["rules", index, "detector", "pattern", "regex"]
                raise PolicyError(
                    source, _line(root, where), _key(where), f"not a valid RE2 expression: {exc}"
                ) from None
    return data


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    while error.context:
        error = max(error.context, key=lambda e: len(e.absolute_path))
    return error


def _key(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _line(root: yaml.Node | None, path: list[Any]) -> int | None:
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None) or next(
                (k for k, _ in node.value if k.value == part), node
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1 if node is not None else None


def _problem(error: jsonschema.ValidationError) -> str:
    expected: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if error.validator == "enum":
        return "must be one of " + ", ".join(map(str, expected))
    if error.validator == "required":
        missing = [k for k in expected if k not in (instance or {})]
        return f"{', '.join(missing)} is required"
    if error.validator == "additionalProperties":
        return "unknown key " + ", ".join(sorted(set(instance) - set(schema.get("properties", {}))))
    if error.validator == "const":
        return f"must be {expected!r} here"
    if error.validator in ("minProperties", "maxProperties"):
        return "a detector has exactly one of pii, terms, pattern, allow"
    if error.validator == "pattern":
        return f"must match {expected}"
    if error.validator == "type":
        return f"must be of type {expected}"
    return error.message
