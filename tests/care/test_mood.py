"""Unhappy customers first: which messages raise a ticket, and the reasons the agent reads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sav_bridge.care.mood import MoodScorer
from sav_bridge.errors import ConfigError

SCORER = MoodScorer.from_config(None)


def calm(text: str, language: str) -> None:
    mood = SCORER.score(text, language, recent_messages=1, followers=None, public=True)
    assert mood.level is None, (text, mood.reasons)
    assert "sav_unhappy" not in mood.tags


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("fr", "merci, pas de souci"),
        ("fr", "je ne suis pas mécontent"),
        ("fr", "Super, merci beaucoup pour votre aide !"),
        ("fr", "MERCI POUR LE REMBOURSEMENT !!!"),
        ("fr", "pas mal du tout"),
        ("fr", "Ce n'est pas grave, merci"),
        ("fr", "Pas de problème, je rappellerai demain"),
        ("fr", "Quel est le délai de remboursement ?"),
        ("fr", "Vous êtes géniaux !!!"),
        ("fr", "Bonjour, quelle est l'adresse de l'agence ?"),
        ("en", "not bad at all"),
        ("en", "no problem, thanks!"),
        ("en", "THANK YOU SO MUCH!!!"),
        ("en", "I was worried but you solved it, thanks"),
        ("en", "Not the worst day, all sorted now, thanks"),
        ("en", "WHERE IS THE NEAREST BRANCH?"),
    ],
)
def test_no_false_alarm_on_polite_or_happy_messages(language: str, text: str) -> None:
    calm(text, language)


def test_an_angry_repeat_complainer_is_urgent_and_told_why() -> None:
    text = "C'est INADMISSIBLE, ma carte est toujours bloquée !!! Je vais porter plainte"
    mood = SCORER.score(text, "fr", recent_messages=4, followers=48_200, public=True)
    assert mood.level == "urgent"
    assert mood.tags == ("sav_unhappy", "sav_influencer")
    assert mood.reasons == (
        "4 messages in 10 minutes",
        "'inadmissible'",
        "'porter plainte'",
        "'!!!'",
        "48k followers",
    )
    assert mood.score == sum(mood.points) == 7.5
    assert mood.note() == (
        "priority urgent: 4 messages in 10 minutes; 'inadmissible'; 'porter plainte'; '!!!'; 48k followers"
    )


def test_the_issues_example_is_high() -> None:
    mood = SCORER.score("C'est inadmissible.", "fr", recent_messages=3, followers=48_000, public=True)
    assert mood.note() == "priority high: 3 messages in 10 minutes; 'inadmissible'; 48k followers"


def test_negative_tone_is_explained_with_its_words_and_needs_a_second_signal() -> None:
    alone = SCORER.score("Terrible app, it never works", "en", 1, None, False)
    assert alone.level is None and alone.reasons[0].startswith("negative tone")
    once = SCORER.score("This is the worst service ever", "en", 1, None, False)  # 'worst' counts once
    assert once.reasons == ("'worst'",)
    worse = SCORER.score("Terrible app, it never works. I want a refund!!!", "en", 1, None, False)
    assert worse.level == "high"
    assert worse.reasons == ("'refund'", "negative tone (VADER −0.64: 'terrible')", "'!!!'")
    french = SCORER.score("Je suis très mécontent, c'est honteux", "fr", 1, None, False)
    assert french.level == "high"
    assert french.reasons == ("'honteux'", "negative tone (pattern −0.80: 'très mécontent')")


def test_french_negation_turns_the_tone_around() -> None:
    content = SCORER.score("je ne suis pas content", "fr", 1, None, False)
    assert any(r.startswith("negative tone (pattern") for r in content.reasons)
    assert SCORER.score("je ne suis pas mécontent", "fr", 1, None, False).reasons == ()


def test_escalation_words_are_whole_words_accents_and_case_aside() -> None:
    found = SCORER.score("Je veux RÉSILIER, j'écris à l’UFC et à 60 Millions", "fr", 1, None, False)
    assert found.reasons[:3] == ("'résilier'", "'ufc'", "'60 millions'")
    assert SCORER.score("ufcx et procèsverbal", "fr", 1, None, False).reasons == ()
    wildcard = SCORER.score("Remboursez-moi", "fr", 1, None, False)
    assert wildcard.reasons == ("'remboursez'",)


def test_influencers_count_in_public_only() -> None:
    public = SCORER.score("Ma carte ne marche pas", "fr", 1, 1_250_000, public=True)
    assert public.reasons == ("1.2M followers",) and public.points == (2.5,)
    assert public.tags == ("sav_influencer",)
    assert SCORER.score("Ma carte ne marche pas", "fr", 1, 1_250_000, public=False).tags == ()


def test_configuration_replaces_words_and_moves_thresholds() -> None:
    scorer = MoodScorer.from_config(
        {
            "thresholds": {"high": 1.5, "urgent": 3},
            "burst": {"messages": 2, "minutes": 5},
            "tags": {"unhappy": "grognon"},
            "escalation_words": {"fr": ["délai*"]},
        }
    )
    mood = scorer.score("Quel délai, vraiment", "fr", 2, None, False)
    assert mood.reasons == ("2 messages in 5 minutes", "'délai'")
    assert (mood.level, mood.tags) == ("urgent", ("grognon",))
    assert scorer.score("inadmissible", "fr", 1, None, False).reasons == ()  # the built-in list is replaced


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"threshold": {}}, "care.mood.threshold"),
        ({"thresholds": {"high": 5, "urgent": 4}}, "care.mood.thresholds.urgent"),
        ({"burst": {"messages": 1}}, "care.mood.burst.messages"),
        ({"influencer_followers": "many"}, "care.mood.influencer_followers"),
        ({"escalation_words": {"fr": ["ok", "***"]}}, "care.mood.escalation_words.fr[1]"),
        ({"escalation_words": {"de": ["nein"]}}, "care.mood.escalation_words.de"),
    ],
)
def test_bad_configuration_names_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MoodScorer.from_config(raw)
    assert caught.value.key == key


LOADED = "print(sorted({m.split('.')[0] for m in sys.modules} & {'nltk', 'textblob', 'textblob_fr', 'vaderSentiment'}))"


def loaded_after(code: str) -> str:
    run = [sys.executable, "-c", f"import sys\n{code}\n{LOADED}"]
    return subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()


def test_lexicons_load_at_the_first_message_of_their_language_and_never_nltk() -> None:
    """The HTTP process imports care's modules but never scores; the worker loads the French lexicon
    without textblob and nltk (42 MB)."""
    assert loaded_after("import sav_bridge.care.mood") == "[]"
    french = (
        "from sav_bridge.care.mood import MoodScorer\nMoodScorer().score('pas content', 'fr', 1, None, True)"
    )
    assert loaded_after(french) == "['textblob_fr']"
    english = (
        "from sav_bridge.care.mood import MoodScorer\nMoodScorer().score('not happy', 'en', 1, None, True)"
    )
    assert loaded_after(english) == "['vaderSentiment']"
