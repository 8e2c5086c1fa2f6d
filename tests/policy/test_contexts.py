"""Insults that depend on context (issue 10, item 5): innocent words aimed at someone."""

from __future__ import annotations

import pytest

from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience
from sav_bridge.policy import Policy
from sav_bridge.policy.contexts import expand


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.from_file(POLICY_DIR / "default.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "Espèce de vache !",
        "espèce d'ordure",
        "Bande de clowns, rendez-moi mon argent",
        "bande d'idiots",
        "Sale porc.",
        "sales chiens",
        "Quel boulet",
        "T'es qu'un guignol",
        "t’es qu’un baltringue !",  # typographic apostrophes
        "Vous êtes nuls",
        "vous êtes des clowns",
        "grosse vache",
        "pauvre type",
        "Va te faire voir",
        "allez vous faire cuire un œuf",
        "Ferme ta bouche",
        "ferme-la",
        "You muppet!",
        "you tool",
        "You absolute donkey.",
        "What a tool, honestly",
        "What the hell is this",
        "Shut your mouth",
        "You're such a dick",
        "bunch of morons",
        "you pigs!",
        "sod off",
        "espèce de c0n",  # disguises still count
        "you m0r0n",
        "уou tool",  # Cyrillic у
        "espèce   de\nvache",
    ],
)
def test_aimed_words_are_blocked(policy: Policy, text: str) -> None:
    decision = policy.decide(text, Audience.PUBLIC)
    assert decision.action == "block", decision.findings
    assert {f.category for f in decision.findings} & {"insult", "vulgar"}


def test_a_milder_pattern_only_warns(policy: Policy) -> None:
    assert policy.decide("What the heck happened", Audience.PUBLIC).action == "warn"


@pytest.mark.parametrize(
    "text",
    [
        "Richard will call you back.",
        "Dick Smith will call you back.",
        "Thank you Dick!",
        "Here is a tool to reset your password.",
        "La vache qui rit est en rayon.",
        "Our clown show for kids starts at 3.",
        "What the app shows is your balance.",
        "Can you tool-free install it?",
        "C'est une espèce de plante rare.",
        "The sale ends today.",
        "La salle est au premier étage.",
        "Une bande dessinée offerte.",
        "Ferme ta session avant de partir.",
        "Va te faire plaisir avec ce bon d'achat.",
        "Did you pig out at the buffet?",
        "Can you git pull the latest version?",
        "Le chien de votre voisin a été retrouvé.",
        "Une sale tache sur le canapé a été nettoyée.",
        "Quel chien adorable, votre labrador !",
        "Vous êtes un client fidèle.",
        "The cow jumped over the moon.",
        "Thank you, see you soon",
        "Rue du Chien-Vert, Paris",
    ],
)
def test_innocent_uses_stay_clean(policy: Policy, text: str) -> None:
    assert policy.findings(text, Audience.PUBLIC) == ()


def test_patterns_expand_with_their_severity_elision_and_allow_phrases() -> None:
    rows = [
        row
        for _, row in expand(
            [
                "=x\tcon|ordure",
                "espèce d'{x}\tfr\tinsult\tblock\tword\tany",
                "you {x}\ten\tinsult\twarn\tclause\tany\tthank you {}",
            ]
        )
    ]
    texts = {row[0] for row in rows}
    assert "espèce d'ordure" in texts and "espèce d’ordure" in texts
    assert "espèce d'con" not in texts  # elision only before a vowel
    assert {"you con", "you cons", "you ordure", "you ordures"} <= texts  # English lists take an "s"
    assert ["you con", "en", "insult", "warn", "clause", "any", "thank you con"] in rows


def test_an_unknown_list_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 1"):
        list(expand(["sale {nope}\tfr\tinsult\tblock\tword\tany"]))
