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
        # signs for whichever letter they hide, digits for the letters they resemble (second round)
        "c$ier, le colis est reparti",
        "sa%%pard de livreur",
        "en%oirés, encore en retard",
        "ni_ц_r ce service",  # two signs and a look-alike
        "t_oцduc",
        "f@ск this",
        "s_i_ty service",
        "shi$ty service",
        "80110ck5 to that",  # 8 for b, 1 for l
        "801locks",
        "He replied 'bul!!hit'",
        "ѕ@ітту service",
        "ьi!cһ please",
        "аѕѕhо1е",  # 1 for l, not only i
        "аѕѕһо13",
        "c'est de la m3.r.d.3",  # dotted pieces of one or two characters
        "f*** this app",  # one letter, then masks
        "quelle m****",
        "5 h 1 7, encore",  # letter by letter, one letter among leet digits
        "konnard va",  # as it sounds
        "espèce d'enkulé",
        "ptn de colis",
        "fck this",
        "@Kenza93 b i t e de livreur, on le signale",  # spaced letters are not English "i"
        "f🤬ck this",  # an emoji for a letter
        "m💩rde alors",
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
        "AT&T, R&D, Q&A et P&G sont nos partenaires.",
        "Notre offre Canal+ et Disney+ est incluse, C++ et C# aussi.",
        "Code promo NOEL_2024, fichier rapport_final_v2.pdf",
        "@jdoe_uk merci, c'est noté ^TG",  # a handle and an agent's initials
        "M. D*** a appelé, Mme B**** vous rappelle.",  # names written with their initial
        "Mot de passe : s3cur1ty! ou P@ssw0rd, pas !@#$%",
        "Rendez-vous à 9 h 3 0, version 1 . 2 . 3, modèles A1.B2.C3",
        "Nike et Kodak sont partenaires.",  # "niquer" as it sounds, too short to tell
        "Merci🙏 c'est top👍👍 Bonjour😊",  # emoji at the end of a word decorate it
    ],
)
def test_innocent_text_stays_clean(policy: Policy, text: str) -> None:
    assert policy.findings(text, Audience.PUBLIC) == ()
