"""Insults that depend on context (issue 10, item 5): innocent words aimed at someone."""

from __future__ import annotations

import re

import pytest

from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience
from sav_bridge.policy import Policy
from sav_bridge.policy.contexts import expand, open_regex


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
        # second round: any noun once aimed, more words, more ways of aiming
        "Non mais espèce de courge, on vous a dit mardi.",
        "espèce de gros poireau",
        "sale petite patate !",
        "bande de charlots !",
        "Quelle bande de guignols",
        "C'est une honte, bande de menteurs",
        "Espèces d'incapables !",
        "Vous êtes des escrocs !",
        "Franchement, vous êtes vraiment nuls.",
        "t'es vraiment nul",
        "you absolute potato... unbelievable",
        "He wrote 'you rodents' and we answered politely.",  # a quote ends the clause
        "Listen, you sheep, we told you Tuesday.",
        "What a bunch of clowns",
        "you scammers!",
        "You're a fraud",
        "you tooll!",  # a doubled letter
    ],
)
def test_aimed_words_are_blocked(policy: Policy, text: str) -> None:
    decision = policy.decide(text, Audience.PUBLIC)
    assert decision.action == "block", decision.findings
    assert {f.category for f in decision.findings} & {"insult", "vulgar"}


@pytest.mark.parametrize(
    "text", ["What the heck happened", "what the fork...", "you guys are useless", "Your staff are clueless"]
)
def test_a_milder_pattern_only_warns(policy: Policy, text: str) -> None:
    assert policy.decide(text, Audience.PUBLIC).action == "warn"


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
        "Le livre « Une espèce de blaireau » est en rupture.",  # after a determiner: a kind of
        "Cette espèce de champignon est toxique.",
        "Espèce de plante : ficus",
        "Dépôt d'espèces de 500 € au guichet.",
        "La bande de Gaza, une bande de jeunes, bande de fréquences 2,4 GHz.",
        "C'est un sale petit bug, on le corrige.",
        "Sale temps pour les colis !",
        "Vous êtes des clients fidèles, vous êtes nombreux à nous écrire.",
        "L'app est incapable de se connecter.",
        "Thank you so much, you absolute legend!",
        "Did you utter a word? You absolutely can!",
        "You guys are amazing and your team is on it.",
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


def test_an_open_slot_stays_one_pattern_with_its_allow_phrases() -> None:
    rows = [
        row
        for _, row in expand(
            [
                "=nice\tlegend",
                "espèce de {|gros} {*}\tfr\tinsult\tblock\tword\tany\tune {}",
                "you absolute {*!nice}\ten\tinsult\tblock\tword\tany",
            ]
        )
    ]
    assert rows == [
        ["espèce de {|gros} {*}", "fr", "insult", "block", "word", "any", "une {}"],
        ["you absolute {*!legend|legends}", "en", "insult", "block", "word", "any"],
    ]
    assert re.fullmatch(open_regex(rows[0][0]), "espece de gros poireau")
    assert re.fullmatch(open_regex(rows[0][0]), "espece de poireau")
    assert not re.fullmatch(open_regex(rows[1][0]), "you absolute legends")


def test_an_unknown_list_is_an_error() -> None:
    with pytest.raises(ValueError, match="line 1"):
        list(expand(["sale {nope}\tfr\tinsult\tblock\tword\tany"]))
