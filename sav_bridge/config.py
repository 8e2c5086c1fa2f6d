"""Configuration: one YAML file plus `SAV_BRIDGE_<KEY>` environment overrides, validated once at start.

`load_settings()` is the only reader of the environment; everything else receives the frozen `Settings`.
Errors name the key and the problem in one line and never echo a value, so a mistyped secret cannot
land in a log.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sav_bridge import POLICY_DIR, SCHEMA_DIR
from sav_bridge.errors import ConfigError, UnknownHelpdesk

DEFAULT_POLICY = POLICY_DIR / "default.yaml"

ENV_PREFIX = "SAV_BRIDGE_"
#: Variables under the prefix that are not configuration keys (and every SAV_BRIDGE_TEST_*: the tests' own).
RESERVED_ENV = frozenset({"CONFIG", "VENDOR_DIR"})
#: Entry-point group of the helpdesk plugins; each adds its configuration section (`config_schema()`).
HELPDESK_GROUP = "sav_bridge.helpdesks"


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
        return isinstance(other, Secret) and same_secret(other._value, self._value)

    def __hash__(self) -> int:
        return hash(self._value)


def same_secret(given: str | None, expected: str | None) -> bool:
    """Whether two secret values (tokens, digests, signatures) are equal, in a time that does not tell
    how much of them matched (`hmac.compare_digest`); None is equal to nothing."""
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


@dataclass(frozen=True)
class MediaSettings:
    """`x.media`: what of a customer's media is downloaded into the ticket."""

    max_bytes: int = 15 * 1024 * 1024
    allowed_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4")


def reveal(value: object) -> str:
    """A plugin section's value in clear: `Secret`s are revealed, anything else is its text."""
    return value.reveal() if isinstance(value, Secret) else str(value)


@dataclass(frozen=True)
class XSettings:
    consumer_secret: Secret
    account_id: str
    #: "oauth1" (OAuth 1.0a user context, keys that do not expire) or "oauth2" (tokens from `x connect`).
    auth: str = "oauth1"
    consumer_key: Secret | None = None
    access_token: Secret | None = None
    access_token_secret: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    refresh_margin_seconds: int = 300
    api_url: str = "https://api.x.com"
    screen_name: str | None = None
    timeout_seconds: float = 10.0
    # polling and budget (sav_bridge.channels.x.poll, billing)
    mode: str = "webhook"
    poll_interval_seconds: float = 120.0
    backfill_hours: float = 24.0
    gap_minutes: float = 30.0
    budget: Mapping[str, Any] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    media: MediaSettings = field(default_factory=MediaSettings)
    bearer_token: Secret | None = None
    events: str = "activity_api"
    quiet_alert_hours: float = 12.0

    def __post_init__(self) -> None:
        raw: Any = self.media
        if isinstance(raw, Mapping):  # the validated `x.media` section, as read
            media = MediaSettings(raw.get("max_bytes", MediaSettings.max_bytes),
                                  tuple(raw.get("allowed_types", MediaSettings.allowed_types)))  # fmt: skip
            object.__setattr__(self, "media", media)


@dataclass(frozen=True)
class WorkerSettings:
    count: int = 2
    poll_seconds: float = 1.0
    lease_seconds: int = 120
    max_attempts: int = 15
    max_backoff_seconds: int = 1800
    #: A failing job is retried for at least this long (and `max_attempts` times) before the dead letters.
    retry_hours: float = 72.0
    #: Requests per minute by destination ("x", the helpdesk's name), shared by every replica
    #: (`sav_bridge.throttle`); a destination not named has no limit of ours, only the vendor's 429s.
    rate_limits: Mapping[str, float] = field(default_factory=dict)
    #: Where `serve` runs them: "separate", a child process of its own (`sav_bridge.worker_process`), or
    #: "inline", on the HTTP process's event loop.
    process: str = "separate"


@dataclass(frozen=True)
class RetentionSettings:
    """`retention`: how long the store keeps what it no longer needs (`sav_bridge.retention`)."""

    #: Raw inbound bodies (events' payloads, quarantined bodies) are blanked after this many days.
    raw_body_days: float = 30.0
    #: Event ids are kept at least this long (never under 7), so a late redelivery is still absorbed.
    dedup_days: float = 14.0
    #: Done and skipped jobs move to the archive (keys and times, no payload) after this many days.
    done_job_days: float = 7.0
    #: The archive itself is purged after this many days.
    archive_days: float = 90.0
    #: How often a replica runs the purge (each step is a short transaction of bounded size).
    every_minutes: float = 60.0


@dataclass(frozen=True)
class SignatureSettings:
    format: str = " ^{initials}"
    overrides: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JwtSettings:
    """How the compliance API checks the identity provider's tokens (`console.jwt`)."""

    issuer: str
    audience: str
    public_key: str | None = None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    roles_claim: str = "roles"
    leeway_seconds: int = 30


@dataclass(frozen=True)
class OidcSettings:
    """The console's own sign-in (`console.oidc`): OpenID Connect authorization code with PKCE."""

    issuer: str
    client_id: str
    client_secret: Secret | None = None
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    #: Where the provider sends the browser back; None: `public_url` + /console/callback.
    redirect_url: str | None = None


@dataclass(frozen=True)
class ConsoleSettings:
    #: None: the compliance API is off (every /api/v1/ request answers 404).
    jwt: JwtSettings | None = None
    oidc: OidcSettings | None = None
    #: A browser session (OIDC or token sign-in) lasts at most this long, and never past its token.
    session_hours: float = 8.0
    #: Group names of the company -> console role (viewer, editor, approver).
    roles: Mapping[str, str] = field(default_factory=dict)
    #: A held reply undecided for this long is reported as overdue.
    approval_timeout_hours: float = 4.0


@dataclass(frozen=True, kw_only=True)
class BaseSettings:
    """Everything but the X channel: what a helpdesk plugin reads, and all `<helpdesk> provision` needs.

    Plugins read their own section from `sections` (`helpdesk_section()`).
    """

    database_url: str = "sqlite:///sav-bridge.db"
    #: The plugin's name; "" only where no helpdesk is needed (`load_x_settings`) and none could be chosen.
    helpdesk: str = ""
    sandbox: bool = False
    public_url: str | None = None
    log_level: str = "INFO"
    max_body_bytes: int = 1024 * 1024
    webhook_tolerance_seconds: int = 300
    host: str = "0.0.0.0"
    port: int = 8080
    #: `server.max_concurrent_requests`: past it, 503 with Retry-After (`sav_bridge.edge`).
    max_concurrent_requests: int = 200
    #: `server.shutdown_grace_seconds`: how long a SIGTERM waits for requests and jobs in flight.
    shutdown_grace_seconds: float = 20.0
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    signature: SignatureSettings = field(default_factory=SignatureSettings)
    policy_path: Path = DEFAULT_POLICY
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Fernet key that encrypts the credentials the gateway stores itself (X's OAuth 2.0 tokens).
    secrets_key: Secret | None = None
    #: The validated `care` section, defaults filled in (`sav_bridge.care` reads it); empty: care is off.
    care_raw: Mapping[str, Any] = field(default_factory=dict)

    def helpdesk_section(self) -> Mapping[str, Any]:
        return self.sections.get(self.helpdesk, {})

    def secrets(self) -> list[str]:
        """Every secret value in clear, for the log redaction filter."""
        values = [v.reveal() for s in self.sections.values() for v in s.values() if isinstance(v, Secret)]
        values += [self.secrets_key.reveal()] if self.secrets_key else []
        oidc = self.console.oidc
        values += [oidc.client_secret.reveal()] if oidc and oidc.client_secret else []
        return [v for v in values if v]


@dataclass(frozen=True, kw_only=True)
class Settings(BaseSettings):
    """Everything sav-bridge needs to run, validated."""

    x: XSettings

    def secrets(self) -> list[str]:
        keys = (self.x.consumer_secret, self.x.consumer_key, self.x.access_token, self.x.access_token_secret,
                self.x.client_secret, self.x.refresh_token)  # fmt: skip
        values = [key.reveal() for key in keys if key is not None]
        values += [self.x.bearer_token.reveal()] if self.x.bearer_token else []
        return [v for v in values if v] + super().secrets()


def plugin_schemas() -> dict[str, dict[str, Any]]:
    """Each installed helpdesk plugin's section schema, by plugin name (a plugin without one: any mapping)."""
    schemas: dict[str, dict[str, Any]] = {}
    for point in entry_points(group=HELPDESK_GROUP):
        read = getattr(point.load(), "config_schema", None)
        schemas[point.name] = dict(read()) if callable(read) else {"type": "object"}
    return schemas


def load_schema() -> dict[str, Any]:
    """The core schema with every installed plugin's section added under the plugin's name, required
    when `helpdesk` names that plugin."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / "config.schema.json").read_text(encoding="utf-8"))
    sections = plugin_schemas()
    schema["x-plugins"] = sorted(sections)
    for name, section in sorted(sections.items()):
        schema["properties"][name] = section
        schema.setdefault("allOf", []).insert(
            0, {"if": {"properties": {"helpdesk": {"const": name}}}, "then": {"required": [name]}}
        )
    return schema


def _choose_helpdesk(raw: dict[str, Any], schema: Mapping[str, Any], needed: bool) -> None:
    """Default `helpdesk` to the only installed plugin; when `needed`, refuse a well-formed name that
    no installed plugin has (before validation, which would call its section an unknown key)."""
    installed: list[str] = schema["x-plugins"]
    pattern = schema["properties"]["helpdesk"]["pattern"]
    name = raw.get("helpdesk")
    if name is None and len(installed) == 1:
        raw["helpdesk"] = installed[0]
    elif not needed:
        return
    elif name is None:
        raise ConfigError("helpdesk", f"is required (installed: {', '.join(installed) or 'none'})")
    elif isinstance(name, str) and name not in installed and re.fullmatch(pattern, name):
        raise UnknownHelpdesk(name, installed)


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (if any) and the environment, validate, and build `Settings`."""
    schema = load_schema()
    raw = _raw(path, {} if environ is None else environ, schema)
    _choose_helpdesk(raw, schema, needed=True)
    _apply_defaults(raw, schema)
    _validate(raw, schema)
    return Settings(x=XSettings(**_secretise(raw["x"], schema["properties"]["x"])), **_common(raw, schema))


def load_helpdesk_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> BaseSettings:
    """Like `load_settings` without the `x` section: provisioning the helpdesk needs none of X's secrets.

    An `x` section that is present is still checked key by key, but none of its keys is required.
    """
    schema = load_schema()
    schema["required"] = [k for k in schema["required"] if k != "x"]
    schema["properties"]["x"].pop("required", None)
    schema["properties"]["x"].pop("allOf", None)
    schema["allOf"] = [
        rule for rule in schema.get("allOf", []) if "x" not in rule.get("if", {}).get("properties", {})
    ]
    raw = _raw(path, {} if environ is None else environ, schema)
    _choose_helpdesk(raw, schema, needed=True)
    _apply_defaults(raw, schema)
    _validate(raw, schema)
    return BaseSettings(**_common(raw, schema))


def load_x_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Like `load_settings` without the helpdesk's section: `x provision` and `x status` need only X's keys
    (and the database for status). A helpdesk section that is present is still checked."""
    schema = load_schema()
    schema["allOf"] = [
        rule for rule in schema.get("allOf", []) if "helpdesk" not in rule.get("if", {}).get("properties", {})
    ]
    raw = _raw(path, {} if environ is None else environ, schema)
    _choose_helpdesk(raw, schema, needed=False)
    _apply_defaults(raw, schema)
    _validate(raw, schema)
    return Settings(x=XSettings(**_secretise(raw["x"], schema["properties"]["x"])), **_common(raw, schema))


def configured_policy_path(path: str | Path | None, environ: Mapping[str, str]) -> Path:
    """`policy.path` alone, for `sav-bridge policy …`: compliance staff need no X or helpdesk secrets."""
    configured = _raw(path, environ, load_schema()).get("policy", {}).get("path")
    return Path(configured) if configured else DEFAULT_POLICY


def configured_database_url(path: str | Path | None, environ: Mapping[str, str]) -> str:
    """`database_url` alone, for `sav-bridge migrate`: a schema upgrade needs no X or helpdesk secret."""
    schema = load_schema()
    node = schema["properties"]["database_url"]
    url = _raw(path, environ, schema).get("database_url", node["default"])
    if not isinstance(url, str) or not re.match(node["pattern"], url):
        raise ConfigError("database_url", node["x-expected"])
    return url


def _raw(path: str | Path | None, environ: Mapping[str, str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The YAML file (if any) with the environment laid over it, before defaults and validation."""
    path = path or environ.get(ENV_PREFIX + "CONFIG")
    raw: dict[str, Any] = _read_yaml(Path(path)) if path else {}
    for name, value in sorted(environ.items()):
        # An empty value counts as unset: compose passes `${X_SCREEN_NAME:-}` as "".
        key = name[len(ENV_PREFIX) :]
        if value and name.startswith(ENV_PREFIX) and key not in RESERVED_ENV and not key.startswith("TEST_"):
            keys = key.lower().split("__")
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
    """An environment string as the type the schema wants; the schema then checks ranges and patterns."""
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
            parsed = json.loads(value)
            if not isinstance(parsed, dict):
                raise ValueError
            return parsed
    except ValueError:
        raise ConfigError(key, TYPE_NAMES.get(str(kind), f"must be of type {kind}")) from None
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


#: What each JSON type is called in an error message.
TYPE_NAMES = {
    "integer": "must be an integer",
    "number": "must be a number",
    "string": "must be a string",
    "boolean": "must be true or false",
    "object": "must be a mapping of keys (a JSON object in the environment)",
    "array": "must be a list",
    "null": "must be empty",
}

# JSON Schema counts 2.0 as an integer (a worker count of 2.0 is a mistake) and NaN as a number that
# passes every bound (`.nan` in YAML, `nan` in the environment); neither gets through here.
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
    {
        "integer": lambda _checker, value: isinstance(value, int) and not isinstance(value, bool),
        "number": lambda _checker, value: (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ),
    }
)
_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, type_checker=_TYPES
)


def _validate(raw: dict[str, Any], schema: Mapping[str, Any]) -> None:
    errors = sorted(
        _Validator(schema).iter_errors(raw),
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
    key = ".".join(path) or "(root)"
    rule = str(error.validator)
    instance: Any = error.instance
    node: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if rule == "required":
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        missing = next((k for k in required if k not in (instance or {})), "?")
        # A whole section missing (`x`): name its first required key, which is what to set.
        inner = node.get("properties", {}).get(missing, {}).get("required", [])
        return ConfigError(".".join([*path, missing, *inner[:1]]), node.get("x-expected") or "is required")
    if rule == "additionalProperties":
        known = set(node.get("properties", {}))
        extra = sorted(str(k) for k in instance if k not in known)
        return ConfigError(".".join([*path, extra[0]]) if extra else key, "is not a known key")
    if rule == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return ConfigError(key, " or ".join(TYPE_NAMES.get(str(k), f"must be of type {k}") for k in kinds))
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return ConfigError(key, _range(node))
    if rule == "enum":
        allowed: list[Any] = list(error.validator_value)  # type: ignore[arg-type]
        return ConfigError(key, "must be one of " + ", ".join(map(str, allowed)))
    if rule == "pattern":
        return ConfigError(key, node.get("x-expected") or f"must match the pattern {error.validator_value}")
    if rule == "minLength":
        return ConfigError(key, "must not be empty")
    return ConfigError(key, f"breaks the schema's {rule} rule")


def _range(node: Mapping[str, Any]) -> str:
    """The whole allowed range of a number, whichever bound was crossed."""
    low = (
        f"at least {_num(node['minimum'])}"
        if "minimum" in node
        else f"greater than {_num(node['exclusiveMinimum'])}"
        if "exclusiveMinimum" in node
        else None
    )
    high = (
        f"at most {_num(node['maximum'])}"
        if "maximum" in node
        else f"less than {_num(node['exclusiveMaximum'])}"
        if "exclusiveMaximum" in node
        else None
    )
    if "minimum" in node and "maximum" in node:
        return f"must be between {_num(node['minimum'])} and {_num(node['maximum'])}"
    return "must be " + " and ".join(part for part in (low, high) if part)


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _secretise(section: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    props = node.get("properties", {})
    return {
        k: Secret(v) if props.get(k, {}).get("x-secret") and isinstance(v, str) else v
        for k, v in section.items()
    }


def _rate_limits_checked(workers: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """`workers` with each rate limit's name checked: X's, or an installed helpdesk plugin's (a typo
    would silently limit nothing)."""
    known = ["x", *schema.get("x-plugins", [])]
    for name in workers.get("rate_limits", {}):
        if name not in known:
            raise ConfigError(
                f"workers.rate_limits.{name}", f"names no destination (one of: {', '.join(known)})"
            )
    return workers


def _console(raw: Mapping[str, Any]) -> ConsoleSettings:
    jwt = raw.get("jwt")
    settings = (
        JwtSettings(**{**jwt, "algorithms": tuple(jwt.get("algorithms", JwtSettings.algorithms))})
        if jwt
        else None
    )
    oidc = raw.get("oidc")
    login = (
        OidcSettings(
            oidc["issuer"], oidc["client_id"],
            Secret(oidc["client_secret"]) if oidc.get("client_secret") else None,
            tuple(oidc.get("scopes", OidcSettings.scopes)), oidc.get("redirect_url"),
        )
        if oidc
        else None
    )  # fmt: skip
    return ConsoleSettings(
        settings, login, float(raw.get("session_hours", 8.0)),
        dict(raw.get("roles", {})), float(raw.get("approval_timeout_hours", 4.0)),
    )  # fmt: skip


def _common(raw: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `BaseSettings`, from a validated raw mapping."""
    props = schema["properties"]
    sections = {
        name: _secretise(value, props[name])
        for name, value in raw.items()
        if isinstance(value, dict)
        and name not in {"x", "server", "workers", "retention", "signature", "policy", "console", "care"}
    }
    policy = raw.get("policy", {}).get("path")
    return {
        "database_url": raw["database_url"],
        "helpdesk": raw.get("helpdesk", ""),
        "sandbox": raw["sandbox"],
        "public_url": raw.get("public_url"),
        "log_level": raw["log_level"],
        "max_body_bytes": raw["max_body_bytes"],
        "webhook_tolerance_seconds": raw["webhook_tolerance_seconds"],
        "host": raw["server"]["host"],
        "port": raw["server"]["port"],
        "max_concurrent_requests": raw["server"]["max_concurrent_requests"],
        "shutdown_grace_seconds": float(raw["server"]["shutdown_grace_seconds"]),
        "workers": WorkerSettings(**_rate_limits_checked(raw["workers"], schema)),
        "retention": RetentionSettings(**raw["retention"]),
        "signature": SignatureSettings(**raw["signature"]),
        "policy_path": Path(policy) if policy else DEFAULT_POLICY,
        "console": _console(raw.get("console", {})),
        "sections": sections,
        "secrets_key": Secret(raw["secrets_key"]) if raw.get("secrets_key") else None,
        "care_raw": _care_checked(raw.get("care", {})),
    }


def configured_care(path: str | Path | None, environ: Mapping[str, str]) -> Mapping[str, Any]:
    """The `care` section alone, checked as `load_settings` checks it, for `sav-bridge care …`: trying care
    rules needs no X or helpdesk secret. Empty when the configuration has none."""
    schema = load_schema()
    node = schema["properties"]["care"]
    care = _raw(path, environ, schema).get("care")
    if care is None:
        return {}
    section = {"type": "object", "properties": {"care": node}}
    raw = {"care": care}
    _apply_defaults(raw, section)
    _validate(raw, section)
    return _care_checked(raw["care"])


def _care_checked(care: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `care` section, once what the schema cannot judge is checked too (a time zone, a country's
    holidays, a template's variables, a routing pattern): every command refuses a bad one at start, naming
    the key. Care's libraries are imported only for a configuration that has the section."""
    if care:
        from sav_bridge.care.settings import CareSettings

        CareSettings.from_raw(care)
    return care
