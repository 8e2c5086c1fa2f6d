"""Configuration: one YAML file plus `SAV_BRIDGE_<KEY>` environment overrides, validated once at start.

`load_settings()` is the only reader of the environment; everything else receives the frozen `Settings`.
Errors name the key and the problem in one line and never echo a value, so a mistyped secret cannot
land in a log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sav_bridge import POLICY_DIR, SCHEMA_DIR
from sav_bridge.errors import ConfigError

DEFAULT_POLICY = POLICY_DIR / "default.yaml"

ENV_PREFIX = "SAV_BRIDGE_"
#: Variables under the prefix that are not configuration keys.
RESERVED_ENV = frozenset({"CONFIG", "VENDOR_DIR", "TEST_DATABASE_URL"})


class Secret:
    """A string that never shows itself in repr, str or logs; call `reveal()` where it is used."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class XSettings:
    consumer_secret: Secret
    account_id: str
    access_token: Secret
    api_url: str = "https://api.x.com"
    screen_name: str | None = None
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class WorkerSettings:
    count: int = 2
    poll_seconds: float = 1.0
    lease_seconds: int = 120
    max_attempts: int = 15
    max_backoff_seconds: int = 1800


@dataclass(frozen=True)
class SignatureSettings:
    format: str = " ^{initials}"
    overrides: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Everything sav-bridge needs to run, validated. Plugins read their own section from `sections`."""

    x: XSettings
    database_url: str = "sqlite:///sav-bridge.db"
    helpdesk: str = "zendesk"
    sandbox: bool = False
    public_url: str | None = None
    log_level: str = "INFO"
    max_body_bytes: int = 1024 * 1024
    webhook_tolerance_seconds: int = 300
    host: str = "0.0.0.0"
    port: int = 8080
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    signature: SignatureSettings = field(default_factory=SignatureSettings)
    policy_path: Path = DEFAULT_POLICY
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def helpdesk_section(self) -> Mapping[str, Any]:
        return self.sections.get(self.helpdesk, {})

    def secrets(self) -> list[str]:
        """Every secret value in clear, for the log redaction filter."""
        values = [self.x.consumer_secret.reveal(), self.x.access_token.reveal()]
        for section in self.sections.values():
            values += [v.reveal() for v in section.values() if isinstance(v, Secret)]
        return [v for v in values if v]


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / "config.schema.json").read_text(encoding="utf-8"))
    return schema


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (if any) and the environment, validate, and build `Settings`."""
    schema = load_schema()
    raw = _raw(path, {} if environ is None else environ, schema)
    _apply_defaults(raw, schema)
    _validate(raw, schema)
    return _build(raw, schema)


def configured_policy_path(path: str | Path | None, environ: Mapping[str, str]) -> Path:
    """`policy.path` alone, for `sav-bridge policy …`: compliance staff need no X or helpdesk secrets."""
    configured = _raw(path, environ, load_schema()).get("policy", {}).get("path")
    return Path(configured) if configured else DEFAULT_POLICY


def _raw(path: str | Path | None, environ: Mapping[str, str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The YAML file (if any) with the environment laid over it, before defaults and validation."""
    path = path or environ.get(ENV_PREFIX + "CONFIG")
    raw: dict[str, Any] = _read_yaml(Path(path)) if path else {}
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX) and name[len(ENV_PREFIX) :] not in RESERVED_ENV:
            keys = name[len(ENV_PREFIX) :].lower().split("__")
            _set_path(raw, keys, _coerce(value, _schema_at(schema, keys), ".".join(keys)))
    return raw


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError("--config", f"{path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("--config", f"{path} must hold a mapping of keys")
    return data


def _schema_at(schema: Mapping[str, Any], keys: list[str]) -> Mapping[str, Any] | None:
    node: Mapping[str, Any] | None = schema
    for key in keys:
        if node is None:
            return None
        props = node.get("properties", {})
        node = props.get(key) if key in props else node.get("additionalProperties") or None
        if not isinstance(node, Mapping):
            return None
    return node


def _coerce(value: str, node: Mapping[str, Any] | None, key: str) -> Any:
    kind = node.get("type") if node else None
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if kind == "object":
            return json.loads(value)
    except ValueError:
        raise ConfigError(key, f"environment value must be a {kind}") from None
    return value


def _set_path(raw: dict[str, Any], keys: list[str], value: Any) -> None:
    node = raw
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(".".join(keys), "conflicts with a non-mapping value")
        node = child
    node[keys[-1]] = value


def _apply_defaults(raw: dict[str, Any], schema: Mapping[str, Any]) -> None:
    for key, node in schema.get("properties", {}).items():
        if key not in raw and "default" in node:
            raw[key] = json.loads(json.dumps(node["default"]))
        if isinstance(raw.get(key), dict) and "properties" in node:
            _apply_defaults(raw[key], node)


def _validate(raw: dict[str, Any], schema: Mapping[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(raw),
        key=lambda e: (
            "allOf" in e.schema_path,
            len(e.absolute_path),
            [str(p) for p in e.absolute_path],
        ),
    )
    if errors:
        raise _describe(errors[0])


def _describe(error: jsonschema.ValidationError) -> ConfigError:
    """One line naming the key and the rule broken, without the offending value."""
    if error.validator in ("if", "allOf", "anyOf", "oneOf") and error.context:
        return _describe(error.context[0])
    path = [str(p) for p in error.absolute_path]
    rule = error.validator
    expected: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if rule == "required":
        missing = next((k for k in expected if k not in (instance or {})), "?")
        return ConfigError(".".join([*path, missing]), "is required")
    if rule == "additionalProperties":
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        return ConfigError(".".join([*path, extra[0]]) if extra else ".".join(path), "is not a known key")
    problems = {
        "type": f"must be of type {expected}",
        "pattern": f"must match {expected}",
        "enum": f"must be one of {', '.join(map(str, expected))}",
        "minimum": f"must be at least {expected}",
        "maximum": f"must be at most {expected}",
        "exclusiveMinimum": f"must be greater than {expected}",
        "minLength": "must not be empty",
    }
    return ConfigError(".".join(path) or "(root)", problems.get(str(rule), f"fails the {rule} rule"))


def _secretise(section: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    props = node.get("properties", {})
    return {
        k: Secret(v) if props.get(k, {}).get("x-secret") and isinstance(v, str) else v
        for k, v in section.items()
    }


def _build(raw: dict[str, Any], schema: Mapping[str, Any]) -> Settings:
    props = schema["properties"]
    x = _secretise(raw["x"], props["x"])
    sections = {
        name: _secretise(value, props[name])
        for name, value in raw.items()
        if isinstance(value, dict) and name not in {"x", "server", "workers", "signature", "policy"}
    }
    policy = raw.get("policy", {}).get("path")
    return Settings(
        x=XSettings(**x),
        database_url=raw["database_url"],
        helpdesk=raw["helpdesk"],
        sandbox=raw["sandbox"],
        public_url=raw.get("public_url"),
        log_level=raw["log_level"],
        max_body_bytes=raw["max_body_bytes"],
        webhook_tolerance_seconds=raw["webhook_tolerance_seconds"],
        host=raw["server"]["host"],
        port=raw["server"]["port"],
        workers=WorkerSettings(**raw["workers"]),
        signature=SignatureSettings(**raw["signature"]),
        policy_path=Path(policy) if policy else DEFAULT_POLICY,
        sections=sections,
    )
