"""Acknowledgement texts as the customer reads them: open or away, in French or English, with the right
reopening day and hour, a greeting that survives a missing or hostile name, and templates checked at start."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sav_bridge.care.ack import AckTexts, customer_language, fits_public
from sav_bridge.care.hours import OfficeHours
from sav_bridge.channels.x.text import DM_MAX_LENGTH
from sav_bridge.errors import ConfigError

PARIS = ZoneInfo("Europe/Paris")
TEAM = {"fr": "Service client MaBanque", "en": "MaBanque customer care"}
SIGNATURE = " ^SAV"
HOURS = OfficeHours.from_config(
    {
        "timezone": "Europe/Paris",
        "weekly": {
            "mon": ["09:00-12:00", "14:00-18:00"],
            **{day: ["09:00-18:00"] for day in ("tue", "wed", "thu", "fri")},
        },
        "holidays": {"country": "FR"},
        "closures": [{"from": "2026-12-24T12:00", "to": "2026-12-28T09:30", "reason": "fermeture annuelle"}],
    }
)
SATURDAYS = OfficeHours.from_config(
    {
        "timezone": "Europe/Paris",
        "weekly": {
            **{day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
            "sat": ["09:00-12:00"],
        },
    }
)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def acks(raw: dict[str, Any] | None = None, default_language: str = "fr", minutes: int = 60) -> AckTexts:
    return AckTexts.from_config(raw, TEAM, default_language, minutes, signature=SIGNATURE)


def ack_for(at: datetime, language: str, name: str | None = "Jean", hours: OfficeHours = HOURS) -> str:
    """What the pipeline sends for a message at `at`: open text, or closed text with the reopening."""
    reopening = None if hours.is_open(at) else hours.next_opening(at)
    return acks().render(language, name, reopening, at=at)


def test_a_mention_friday_night_gets_the_away_text_with_monday_morning() -> None:
    assert ack_for(paris(2026, 11, 27, 22, 0), "fr") == (
        "Bonjour Jean, merci pour votre message. Service client MaBanque n'est pas disponible pour le moment "
        "et revient lundi 30 novembre à 9 h\u00a0: nous vous répondrons dès notre retour."
    )
    assert ack_for(paris(2026, 11, 27, 22, 0), "en") == (
        "Hi Jean, thanks for your message. MaBanque customer care is away right now and back Monday "
        "30 November at 9 AM (Paris time): we will answer as soon as we return."
    )


def test_open_hours_get_the_response_time() -> None:
    assert ack_for(paris(2026, 11, 30, 10, 0), "fr") == (
        "Bonjour Jean, merci pour votre message\u00a0! Service client MaBanque l'a bien reçu et vous répond "
        "en moins d'une heure."
    )
    assert ack_for(paris(2026, 11, 30, 10, 0), "en") == (
        "Hi Jean, thanks for your message! MaBanque customer care has received it and will get back to you "
        "in less than an hour."
    )


@pytest.mark.parametrize(
    ("at", "hours", "fr", "en"),
    [
        (paris(2026, 11, 30, 12, 30), HOURS, "aujourd'hui à 14 h", "today at 2 PM"),
        (paris(2026, 11, 30, 7, 0), HOURS, "aujourd'hui à 9 h", "today at 9 AM"),
        (paris(2026, 11, 30, 20, 0), HOURS, "demain à 9 h", "tomorrow at 9 AM"),
        (paris(2026, 11, 27, 22, 0), SATURDAYS, "demain à 9 h", "tomorrow at 9 AM"),
        (paris(2026, 11, 28, 12, 0), SATURDAYS, "lundi 30 novembre à 9 h", "Monday 30 November at 9 AM"),
        # the Christmas closure ends on Monday at 9:30, Christmas Day in between
        (paris(2026, 12, 24, 15, 0), HOURS, "lundi 28 décembre à 9 h 30", "Monday 28 December at 9:30 AM"),
        # New Year's Day is a Friday in 2027: back on Monday, in the new year
        (paris(2026, 12, 31, 20, 0), HOURS, "lundi 4 janvier 2027 à 9 h", "Monday 4 January 2027 at 9 AM"),
        # Whit Monday 2026 (25 May), from the holidays library
        (paris(2026, 5, 22, 19, 0), HOURS, "mardi 26 mai à 9 h", "Tuesday 26 May at 9 AM"),
        # the clocks go forward on Sunday 29 March: Monday at nine, local time
        (paris(2026, 3, 27, 19, 0), HOURS, "lundi 30 mars à 9 h", "Monday 30 March at 9 AM"),
        # and back on Sunday 25 October
        (paris(2026, 10, 23, 19, 0), HOURS, "lundi 26 octobre à 9 h", "Monday 26 October at 9 AM"),
    ],
)
def test_reopening_in_the_customers_language(at: datetime, hours: OfficeHours, fr: str, en: str) -> None:
    assert f"revient {fr}\u00a0:" in ack_for(at, "fr", hours=hours)
    assert f"back {en} (Paris time):" in ack_for(at, "en", hours=hours)


def test_today_and_tomorrow_count_in_the_teams_zone() -> None:
    # 23:30 UTC on Sunday is already Monday 00:30 in Paris: Monday 9:00 is "today", not "tomorrow"
    at = datetime(2026, 11, 29, 23, 30, tzinfo=ZoneInfo("UTC"))
    reopening = HOURS.next_opening(at)
    assert "revient aujourd'hui à 9 h" in acks().render("fr", "Jean", reopening, at=at)


def test_the_team_zone_is_named_only_for_the_other_language() -> None:
    english_team = acks(default_language="en")
    at, reopening = paris(2026, 11, 27, 22, 0), paris(2026, 11, 30, 9, 0)
    assert "back Monday 30 November at 9 AM:" in english_team.render("en", "Jean", reopening, at=at)
    assert "revient lundi 30 novembre à 9 h (heure de Paris)\u00a0:" in english_team.render(
        "fr", "Jean", reopening, at=at
    )


@pytest.mark.parametrize("name", [None, "", "   ", "@troll", "#boycott https://t.co/x"])
def test_no_usable_name_drops_the_name_not_the_greeting(name: str | None) -> None:
    at = paris(2026, 11, 30, 10, 0)
    assert acks().render("fr", name, None, at=at).startswith("Bonjour, merci pour votre message\u00a0!")
    assert acks().render("en", name, None, at=at).startswith("Hi, thanks for your message!")


def test_a_name_never_mentions_or_links_anyone() -> None:
    text = acks().render("en", "Ana 🌸 @elonmusk $TSLA www.spam.example", None, at=paris(2026, 11, 30, 10, 0))
    assert text.startswith("Hi Ana 🌸, thanks")
    assert "@" not in text and "$" not in text and "spam" not in text
    long_name = acks().render("fr", "X" * 200, None, at=paris(2026, 11, 30, 10, 0))
    assert "X" * 51 not in long_name


def test_a_template_starting_with_the_name_reads_well_without_it() -> None:
    texts = acks({"templates": {"fr": {"open": "{name}, merci ! {team} vous répond en {response_time}."}}})
    assert texts.render("fr", None, None, at=paris(2026, 11, 30, 10, 0)) == (
        "Merci ! Service client MaBanque vous répond en moins d'une heure."
    )
    assert texts.render("fr", "Léa", None, at=paris(2026, 11, 30, 10, 0)).startswith("Léa, merci !")


@pytest.mark.parametrize(
    ("minutes", "fr", "en"),
    [
        (30, "moins de 30 minutes", "less than 30 minutes"),
        (60, "moins d'une heure", "less than an hour"),
        (90, "moins d'1 h 30", "less than 1 h 30 min"),
        (240, "moins de 4 heures", "less than 4 hours"),
    ],
)
def test_response_time_follows_the_first_response_target(minutes: int, fr: str, en: str) -> None:
    at = paris(2026, 11, 30, 10, 0)
    assert acks(minutes=minutes).render("fr", "Jean", None, at=at).endswith(f"vous répond en {fr}.")
    assert acks(minutes=minutes).render("en", "Jean", None, at=at).endswith(f"back to you in {en}.")


def test_response_time_and_team_can_be_given_as_words() -> None:
    texts = AckTexts.from_config({"response_time": {"fr": "la journée"}}, "Team MaBanque", "fr", 60)
    at = paris(2026, 11, 30, 10, 0)
    assert texts.render("fr", "Jean", None, at=at).endswith(
        "Team MaBanque l'a bien reçu et vous répond en la journée."
    )
    assert texts.render("en", "Jean", None, at=at).endswith(
        "Team MaBanque has received it and will get back to you in less than an hour."
    )


def test_templates_are_overridden_per_language_and_kind() -> None:
    texts = acks({"templates": {"en": {"closed": "Hello {name}, {team} is back {reopening}."}}})
    at = paris(2026, 11, 27, 22, 0)
    assert texts.render("en", "Jean", paris(2026, 11, 30, 9, 0), at=at) == (
        "Hello Jean, MaBanque customer care is back Monday 30 November at 9 AM (Paris time)."
    )
    assert texts.render("en", "Jean", None, at=at).startswith("Hi Jean, thanks for your message!")
    assert texts.render("fr", "Jean", None, at=at).startswith("Bonjour Jean")
    # a language with no template of its own gets the default language's
    assert texts.render("de", "Jean", None, at=at).startswith("Bonjour Jean")


def test_settings_are_read_with_defaults() -> None:
    texts = acks({"via": "public", "cooldown_hours": 12, "silence_hours": 48, "enabled": False})
    assert (texts.via, texts.cooldown_hours, texts.silence_hours, texts.enabled) == (
        "public",
        12.0,
        48.0,
        False,
    )
    default = acks()
    assert (default.via, default.cooldown_hours, default.silence_hours, default.enabled) == (
        "dm",
        24.0,
        72.0,
        True,
    )


@pytest.mark.parametrize(
    ("raw", "key", "problem"),
    [
        ({"templates": {"fr": {"closed": "Bonjour {name}, {agent} revient {reopening}."}}}, "care.ack.templates.fr.closed", "unknown variable {agent}"),
        ({"templates": {"en": {"open": "Back {reopening}"}}}, "care.ack.templates.en.open", "only the closed template"),
        ({"templates": {"en": {"open": "Hi {name!r}"}}}, "care.ack.templates.en.open", "plainly"),
        ({"templates": {"en": {"open": "Hi {name.upper}"}}}, "care.ack.templates.en.open", "unknown variable"),
        ({"templates": {"en": {"open": "Hi {name"}}}, "care.ack.templates.en.open", "lone {"),
        ({"templates": {"en": {"open": ""}}}, "care.ack.templates.en.open", "non-empty"),
        ({"templates": {"de": {"open": "Hallo {name}"}}}, "care.ack.templates.de", "not a known language"),
        ({"templates": {"fr": {"away": "…"}}}, "care.ack.templates.fr.away", "not a known key"),
        ({"templates": {"fr": {"open": "x" * DM_MAX_LENGTH}}}, "care.ack.templates.fr.open", "direct message"),
        ({"via": "public", "templates": {"fr": {"open": "Bonjour {name}. " + "Merci. " * 40}}}, "care.ack.templates.fr.open", "public reply"),
        ({"via": "email"}, "care.ack.via", "dm, public"),
        ({"cooldown_hours": -1}, "care.ack.cooldown_hours", "number of hours"),
        ({"enabled": "yes"}, "care.ack.enabled", "true or false"),
        ({"response_time": {"es": "pronto"}}, "care.ack.response_time.es", "not a known language"),
        ({"sender": "bot"}, "care.ack.sender", "not a known key"),
    ],
)  # fmt: skip
def test_bad_settings_name_their_key(raw: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        acks(raw)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_team_and_default_language_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"config: care\.team: "):
        AckTexts.from_config(None, "", "fr", 60)
    with pytest.raises(ConfigError, match=r"config: care\.team\.de: "):
        AckTexts.from_config(None, {"de": "Kundendienst"}, "fr", 60)
    with pytest.raises(ConfigError, match=r"config: care\.default_language: "):
        AckTexts.from_config(None, TEAM, "es", 60)


def test_built_in_texts_fit_a_public_reply_with_the_signature() -> None:
    texts = acks({"via": "public"})  # would refuse at start otherwise
    for language in ("fr", "en"):
        for at in (paris(2026, 11, 30, 10, 0), paris(2026, 12, 31, 20, 0)):
            reopening = None if HOURS.is_open(at) else HOURS.next_opening(at)
            assert fits_public(texts.render(language, "Dominique Martin", reopening, at=at), SIGNATURE)


def test_fits_public_counts_as_x_does() -> None:
    assert fits_public("a" * 275, SIGNATURE)
    assert not fits_public("a" * 276, SIGNATURE)
    # CJK characters weigh two, a link 23 whatever its length
    assert not fits_public("日" * 138, SIGNATURE)
    assert fits_public("See https://example.com/" + "x" * 300 + " " + "a" * 240, SIGNATURE)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("@MaBanque ma carte est bloquée depuis hier, je ne peux plus payer", "fr"),
        ("@MaBanque I can't log in to my account since this morning", "en"),
        ("@MaBanque ???", "fr"),
        ("@the_bank_of_you_and_me https://example.com/la/carte/de/la/banque", "fr"),
        ("@MaBanque 😡😡", "fr"),
    ],
)
def test_customer_language_from_the_message(text: str, language: str) -> None:
    assert customer_language(text, "fr") == language


def test_customer_language_default_when_unsure() -> None:
    assert customer_language("@MaBanque ???", "en") == "en"
    assert (
        customer_language("@the_bank_of_you_and_me https://example.com/la/carte/de/la/banque", "en") == "en"
    )
