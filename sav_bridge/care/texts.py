"""The words of automatic acknowledgements: built-in templates and the moments and delays they name.

Short, polite, in the voice of a social care team: the customer learns they were heard, by whom, and when to
expect an answer. Dates and times follow the customer's language (babel's CLDR data for day and month names);
"today" and "tomorrow" are counted in the team's time zone, from when the message arrived.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from babel.dates import format_date, get_timezone_location

LANGUAGES = ("fr", "en")
NBSP = "\u00a0"  # French puts a (no-break) space before ! and :

TEMPLATES: dict[str, dict[str, str]] = {
    "fr": {
        "open": f"Bonjour {{name}}, merci pour votre message{NBSP}! {{team}} l'a bien reçu et vous répond en "
        "{response_time}.",
        "closed": f"Bonjour {{name}}, merci pour votre message. {{team}} n'est pas disponible pour le moment et revient "
        f"{{reopening}}{NBSP}: nous vous répondrons dès notre retour.",
    },
    "en": {
        "open": "Hi {name}, thanks for your message! {team} has received it and will get back to you in "
        "{response_time}.",
        "closed": "Hi {name}, thanks for your message. {team} is away right now and back {reopening}: "
        "we will answer as soon as we return.",
    },
}

_ENTITY = re.compile(r"(?:https?://|www\.)\S+|[@#$＠＃]\w+", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
MAX_NAME = 50  # X's own limit on display names
_VOWELS = "AEIOUYÀÂÉÈÊËÎÏÔÖÙÛÜ"


def display_name(name: str | None) -> str | None:
    """The customer's display name as the greeting may use it: without @handles, #tags, $cashtags or links
    (a public reply must not mention or link anyone through a name), None when nothing is left."""
    if not name:
        return None
    cleaned = _SPACES.sub(" ", _ENTITY.sub(" ", name)).strip(" ,;:.-")
    return cleaned[:MAX_NAME].strip() or None


def response_time_words(minutes: int, language: str) -> str:
    """A first-response target in words: 60 → "moins d'une heure" / "less than an hour"."""
    hours, rest = divmod(minutes, 60)
    if language == "fr":
        if not hours:
            return f"moins de {rest} minutes"
        if not rest:
            return "moins d'une heure" if hours == 1 else f"moins de {hours} heures"
        return f"moins d'1 h {rest:02d}" if hours == 1 else f"moins de {hours} h {rest:02d}"
    if not hours:
        return f"less than {rest} minutes"
    if not rest:
        return "less than an hour" if hours == 1 else f"less than {hours} hours"
    return f"less than {hours} h {rest:02d} min"


def reopening_words(reopening: datetime, at: datetime, language: str, with_zone: bool = False) -> str:
    """When the team is back, relative to `at` in the reopening's time zone: "demain à 9 h",
    "lundi 30 novembre à 9 h 30", "today at 2 PM", "Monday 30 November at 9 AM"; with the zone's city
    ("(Paris time)") when the customer may not share the team's clock."""
    zone = reopening.tzinfo
    when = reopening
    days = (when.date() - at.astimezone(zone).date()).days
    clock = _clock(when, language)
    if days == 0:
        day = "aujourd'hui" if language == "fr" else "today"
    elif days == 1:
        day = "demain" if language == "fr" else "tomorrow"
    else:
        pattern = "EEEE d MMMM" if when.year == at.astimezone(zone).year else "EEEE d MMMM y"
        day = format_date(when.date(), pattern, locale=language)
    words = f"{day} à {clock}" if language == "fr" else f"{day} at {clock}"
    if with_zone and zone is not None:
        words += f" ({_zone_words(zone, language)})"
    return words


def _clock(when: datetime, language: str) -> str:
    if language == "fr":
        return f"{when.hour} h" + (f" {when.minute:02d}" if when.minute else "")
    hour = when.hour % 12 or 12
    half = "AM" if when.hour < 12 else "PM"
    return f"{hour}:{when.minute:02d} {half}" if when.minute else f"{hour} {half}"


def _zone_words(zone: tzinfo, language: str) -> str:
    city = str(get_timezone_location(zone, locale=language, return_city=True))
    if city.startswith(("UTC", "GMT")):
        return city
    if language == "fr":
        return f"heure d'{city}" if city[:1].upper() in _VOWELS else f"heure de {city}"
    return f"{city} time"
