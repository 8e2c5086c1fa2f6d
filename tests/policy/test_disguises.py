"""Disguises beyond Unicode's confusables (issue 10, item 4): font look-alikes, digits in short words,
letters spaced one by one, masks inside words, and their mixes, without losing innocent words."""

from __future__ import annotations

import pytest

from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience
from sav_bridge.policy import Policy
from sav_bridge.policy.normalize import term_view


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.from_file(POLICY_DIR / "default.yaml")


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("fцck", "fuck"),  # Cyrillic tse: u in italics
        ("ѕнιт", "shit"),  # fancy text: Cyrillic en for h
        ("вitch", "bitch"),  # Cyrillic ve, a small-capital B
        ("мerde", "merde"),
        ("ᴍᴇʀᴅᴇ", "merde"),  # Latin small capitals, by their Unicode name
        ("ʙɪᴛᴄʜ", "bitch"),
        ("ƒuck", "fuck"),  # f with hook
        ("mɛrde", "merde"),  # open e
        ("ϲonard", "conard"),  # lunate sigma: NFKC leads to ς, Unicode's table maps ϲ itself
        ("КΑΚΑ", "kaka"),  # capitals fold before lower case
        ("ᖴᑌᑕK", "fuck"),  # Canadian syllabics of fancy-text alphabets
        ("ꮯꭺꮢꭼ", "ꮯꭺꮢꭼ"),  # lower-case Cherokee is not in the table: only capitals that are Latin ones
    ],
)
def test_font_look_alikes_fold_to_latin(text: str, folded: str) -> None:
    assert term_view(text).text == folded


@pytest.mark.parametrize(
    "text",
    [
        "Quelle mеrdе ce service",  # Cyrillic е, in Unicode's table
        "fцck this app",
        "sцcks to be you, bцllshit",
        "ѕнιт happens",
        "Oh ᴍᴇʀᴅᴇ, encore une panne",
        "what a ʙɪᴛᴄʜ",
        "ƒuck this",
        "mɛrde alors",
        "fυcκ that",  # Greek upsilon and kappa
        "ϲonnard",
        "ᑕonnard",
        "вastard",
        "ваtard",  # two Cyrillic letters in a row
        "сцnt",  # Cyrillic с and ц
        "t'es qu'une b173",  # digits for letters in a short word
        "c'est de la m€rd€",
        "sh!7 happens",
        "t'es un c o n",  # every letter spaced
        "t'es un c.0.n",  # spaced and leet
        "p.u.t.a.1.n de panne",
        "f. u. c. k this",
        "f.ц.c.k this",  # spaced and a look-alike
        "f.ck this",  # a mask in the middle, other signs than *
        "sh-t happens",
        "f%ck this",
        "f_ck this",
        "b^tch please",
        "fxck this",  # an x between two consonants
        "shxt happens",
        "fц*k this",  # a look-alike and a mask
        "m*rd3 alors",  # a mask and leet
    ],
)
def test_disguised_terms_are_blocked(policy: Policy, text: str) -> None:
    decision = policy.decide(text, Audience.PUBLIC)
    assert decision.action == "block", decision.findings


@pytest.mark.parametrize(
    "text",
    [
        "Merci de nous écrire par e-mail, est-ce possible ?",
        "Pouvez-vous nous envoyer le t-shirt ? Le wi-fi est-il coupé ?",
        "Peut-être demain, a-t-il dit.",
        "Our next text will explain the box and the taxi fare.",
        "See bit.ly/abc or www.shop.fr for details.",
        "The A320 and B737 fleets are grounded.",
        "Version 1.3.5 is out, c.-à-d. demain.",
        "Sixth floor, lynx and sphinx exhibit.",
        "Mr Kłos and Ms Øberg will call you back.",
        "Nos bureaux à Łódź et à Malmö.",
        "Привет, мы ответим вам завтра.",
        "Καλημέρα, θα σας απαντήσουμε σύντομα.",
        "Ծառայությունը աշխատում է.",
        "the sh-ops and the co-op",
        "Il fait 15°C à Sète, prévoir 17h30.",
    ],
)
def test_innocent_text_stays_clean(policy: Policy, text: str) -> None:
    assert policy.findings(text, Audience.PUBLIC) == ()
