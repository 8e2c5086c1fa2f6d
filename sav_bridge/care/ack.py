"""Automatic acknowledgements: what a customer is told at once, in their language, the team open or away.

`AckTexts` reads `care.ack` (the pipeline decides when to send; this says what): built-in French and English
templates, each replaceable per language; the variables {name}, {team}, {response_time} and, in the closed
template, {reopening}. A template naming any other variable is refused at start, naming its key. A rendered
text always fits a direct message; `fits_public` says whether it also fits a public reply with the signature.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sav_bridge.care import texts
from sav_bridge.channels.x.text import DM_MAX_LENGTH, MAX_WEIGHTED_LENGTH, weighted_length
from sav_bridge.errors import ConfigError
from sav_bridge.policy.terms import guess_language

KINDS = ("open", "closed")
VARIABLES = {
    "open": ("name", "team", "response_time"),
    "closed": ("name", "team", "response_time", "reopening"),
}
VIAS = ("dm", "public")
_KEYS = ("enabled", "via", "cooldown_hours", "silence_hours", "response_time", "templates")
_NO_NAME = re.compile(r"[ \t]*\{name\}")
_LEADING = re.compile(r"^[\s,;:.!-]+")
_NOT_WORDS = re.compile(r"(?:https?://|www\.)\S+|[@#$]\w+", re.IGNORECASE)

# Worst cases a template is tried with at start: the longest name X allows and a long date.
_SAMPLE_AT = datetime(2027, 9, 28, 20, 0, tzinfo=ZoneInfo("Europe/Paris"))
_SAMPLE_REOPENING = datetime(2028, 9, 27, 23, 59, tzinfo=ZoneInfo("Europe/Paris"))
_PUBLIC_NAME = "Dominique Martin"  # a usual name, for the public-reply check


@dataclass(frozen=True)
class AckTexts:
    """The acknowledgement texts and settings of `care.ack`; build it with `from_config`."""

    team: Mapping[str, str]
    response_time: Mapping[str, str]
    templates: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: texts.TEMPLATES)
    default_language: str = "fr"
    enabled: bool = True
    via: str = "dm"
    cooldown_hours: float = 24.0
    silence_hours: float = 72.0

    @classmethod
    def from_config(
        cls,
        raw_ack: Mapping[str, Any] | None,
        team: str | Mapping[str, str],
        default_language: str,
        first_response_minutes: int,
        *,
        signature: str = "",
        key: str = "care.ack",
    ) -> AckTexts:
        """`care.ack` as read from the configuration (None = the defaults), the team's name (one string or
        one per language, `care.team`), and the first-response target that {response_time} states unless
        `response_time` says otherwise. With `via: public`, each template must fit a public reply with a
        usual name and `signature`. Raises ConfigError naming the key."""
        raw = dict(raw_ack or {})
        for name in raw:
            if name not in _KEYS:
                raise ConfigError(f"{key}.{name}", "is not a known key")
        if default_language not in texts.LANGUAGES:
            raise ConfigError("care.default_language", "must be one of " + ", ".join(texts.LANGUAGES))
        via = raw.get("via", "dm")
        if via not in VIAS:
            raise ConfigError(f"{key}.via", "must be one of " + ", ".join(VIAS))
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{key}.enabled", "must be true or false")
        derived = {lang: texts.response_time_words(first_response_minutes, lang) for lang in texts.LANGUAGES}
        acks = cls(
            team=_per_language(team, "care.team", None),
            response_time=_per_language(raw.get("response_time"), f"{key}.response_time", derived),
            templates=_templates(raw.get("templates"), f"{key}.templates"),
            default_language=default_language,
            enabled=enabled,
            via=via,
            cooldown_hours=_hours(raw.get("cooldown_hours", 24), f"{key}.cooldown_hours"),
            silence_hours=_hours(raw.get("silence_hours", 72), f"{key}.silence_hours"),
        )
        acks._check_lengths(signature, f"{key}.templates")
        return acks

    def render(self, language: str, name: str | None, reopening: datetime | None, *, at: datetime) -> str:
        """The acknowledgement for a message that arrived `at`: the open template when `reopening` is None,
        else the closed one saying when the team is back ("demain à 9 h", "Monday 30 November at 9 AM",
        relative to `at` in the reopening's time zone, which is the team's). A language without templates
        gets the default language's. {name} is dropped with its space when the customer has no usable name."""
        lang = language if language in self.templates else self.default_language
        template = self.templates[lang]["open" if reopening is None else "closed"]
        shown = texts.display_name(name)
        name_first = template.startswith("{name}")
        if shown is None:
            template = _NO_NAME.sub("", template)
        values = {"name": shown or "", "team": self.team[lang], "response_time": self.response_time[lang]}
        if reopening is not None:
            with_zone = lang != self.default_language  # a customer writing another language may be abroad
            values["reopening"] = texts.reopening_words(reopening, at, lang, with_zone)
        text = template.format(**values).strip()
        if shown is None and name_first:
            text = _LEADING.sub("", text)
            text = text[:1].upper() + text[1:]
        return text

    def _check_lengths(self, signature: str, key: str) -> None:
        for lang in self.templates:
            for kind in KINDS:
                reopening = None if kind == "open" else _SAMPLE_REOPENING
                longest = self.render(lang, "W" * texts.MAX_NAME, reopening, at=_SAMPLE_AT)
                if len(longest + signature) > DM_MAX_LENGTH:
                    raise ConfigError(
                        f"{key}.{lang}.{kind}",
                        f"is too long for a direct message ({DM_MAX_LENGTH} characters)",
                    )
                usual = self.render(lang, _PUBLIC_NAME, reopening, at=_SAMPLE_AT)
                if self.via == "public" and not fits_public(usual, signature):
                    raise ConfigError(
                        f"{key}.{lang}.{kind}",
                        f"is too long for a public reply: {weighted_length(usual + signature)} of "
                        f"{MAX_WEIGHTED_LENGTH} weighted characters with a usual name and the signature "
                        "(shorten it, or send by DM)",
                    )


def fits_public(text: str, signature: str) -> bool:
    """Whether `text` followed by `signature` fits one public post (X's weighted count: 280)."""
    return weighted_length(text + signature) <= MAX_WEIGHTED_LENGTH


def customer_language(text: str, default: str) -> str:
    """The customer's language ("fr" or "en") from the words of their message, handles and links left out;
    `default` when the text does not say (a bare "@MaBanque ???")."""
    return guess_language(_NOT_WORDS.sub(" ", text)) or default


def _per_language(raw: Any, key: str, defaults: Mapping[str, str] | None) -> dict[str, str]:
    """One string for every language, or one per language (missing ones from `defaults`, else the first)."""
    if raw is None and defaults is not None:
        return dict(defaults)
    if isinstance(raw, str) and raw.strip():
        return dict.fromkeys(texts.LANGUAGES, raw.strip())
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(key, "must be a text, or one text per language (fr, en)")
    given: dict[str, str] = {}
    for lang, value in raw.items():
        if lang not in texts.LANGUAGES:
            raise ConfigError(f"{key}.{lang}", "is not a known language (" + ", ".join(texts.LANGUAGES) + ")")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key}.{lang}", "must be a non-empty text")
        given[lang] = value.strip()
    fallback = next(iter(given.values()))
    return {lang: given.get(lang) or (defaults or {}).get(lang) or fallback for lang in texts.LANGUAGES}


def _templates(raw: Any, key: str) -> dict[str, dict[str, str]]:
    merged = {lang: dict(kinds) for lang, kinds in texts.TEMPLATES.items()}
    if raw is None:
        return merged
    if not isinstance(raw, Mapping):
        raise ConfigError(key, "must map a language (fr, en) to its open and closed templates")
    for lang, kinds in raw.items():
        if lang not in texts.LANGUAGES:
            raise ConfigError(f"{key}.{lang}", "is not a known language (" + ", ".join(texts.LANGUAGES) + ")")
        if not isinstance(kinds, Mapping):
            raise ConfigError(f"{key}.{lang}", "must be a mapping with open and/or closed")
        for kind, template in kinds.items():
            if kind not in KINDS:
                raise ConfigError(f"{key}.{lang}.{kind}", "is not a known key (open, closed)")
            merged[lang][kind] = _template(template, kind, f"{key}.{lang}.{kind}")
    return merged


def _template(raw: Any, kind: str, key: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(key, "must be a non-empty text")
    known = VARIABLES[kind]
    try:
        fields = list(string.Formatter().parse(raw))
    except ValueError:
        raise ConfigError(key, "has a lone { or }: write {{ or }} for a brace") from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name == "reopening" and kind == "open":
            raise ConfigError(key, "uses {reopening}, which only the closed template knows")
        if name not in known:
            raise ConfigError(key, f"uses an unknown variable {{{name}}} (known: {', '.join(known)})")
        if spec or conversion:
            raise ConfigError(key, f"must write {{{name}}} plainly, without ! or :")
    return raw.strip()


def _hours(raw: Any, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 24 * 365:
        raise ConfigError(key, "must be a number of hours from 0 to 8760")
    return float(raw)
