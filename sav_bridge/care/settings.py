"""The `care` section, read once into the objects that apply it; absent, care is off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sav_bridge.care.ack import AckTexts
from sav_bridge.care.hours import OfficeHours
from sav_bridge.care.mood import MoodScorer
from sav_bridge.care.routing import Routing

#: What the public invitation to continue by DM says when `care.personal_data.templates` does not.
INVITES = {
    "fr": "Pour votre sécurité, évitez de partager des informations personnelles en public : "
    "écrivez-nous en message privé, nous vous y répondons.",
    "en": "For your security, please don't share personal details in public: send us a direct message "
    "and we'll help you there.",
}


@dataclass(frozen=True)
class PersonalData:
    """`care.personal_data`: a customer who posts personal data in public is steered to DM."""

    enabled: bool = True
    tag: str = "sav_personal_data"
    invite_publicly: bool = False
    invites: Mapping[str, str] = field(default_factory=lambda: dict(INVITES))


@dataclass(frozen=True)
class CareSettings:
    signature: str
    default_language: str
    first_response_minutes: float
    next_response_minutes: float
    warn_before_minutes: float
    watch_priority: str
    history: bool
    history_tickets: int
    personal: PersonalData
    ack: AckTexts
    hours: OfficeHours
    mood: MoodScorer
    routing: Routing

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> CareSettings | None:
        """The validated `care` mapping (defaults filled in by the loader); None when care is off.
        Raises ConfigError naming the key for what the schema cannot say (a time zone, a pattern)."""
        if not raw:
            return None
        team = raw.get("team", {"fr": "Notre équipe", "en": "Our team"})
        language = str(raw.get("default_language", "fr"))
        first = float(raw.get("first_response_minutes", 60))
        signature = str(raw.get("signature", " ^SAV"))
        personal = dict(raw.get("personal_data") or {})
        history = dict(raw.get("history") or {})
        return cls(
            signature=signature,
            default_language=language,
            first_response_minutes=first,
            next_response_minutes=float(raw.get("next_response_minutes", 240)),
            warn_before_minutes=float(raw.get("warn_before_minutes", 15)),
            watch_priority=str(raw.get("watch_priority", "high")),
            history=bool(history.get("enabled", True)),
            history_tickets=int(history.get("max_tickets", 5)),
            personal=PersonalData(
                enabled=bool(personal.get("enabled", True)),
                tag=str(personal.get("tag", "sav_personal_data")),
                invite_publicly=bool(personal.get("invite_publicly", False)),
                invites={**INVITES, **dict(personal.get("templates") or {})},
            ),
            ack=AckTexts.from_config(raw.get("ack"), team, language, int(first), signature=signature),
            hours=OfficeHours.from_config(raw.get("hours")),
            mood=MoodScorer.from_config(raw.get("mood")),
            routing=Routing.from_config(raw.get("routing")),
        )
