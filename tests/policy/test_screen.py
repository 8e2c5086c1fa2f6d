"""The screen in front of the detectors may look too often, never too little."""

from __future__ import annotations

import contextlib
import random

import pytest

from bench.policy_quality import load_rows
from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience
from sav_bridge.policy import Policy
from sav_bridge.policy.screen import Screen
from sav_bridge.policy.terms import builtin_terms

NOISE = [
    "",
    " ",
    ".",
    "-",
    "\u200b",
    "\u00a0",
    "é",
    "😀",
    "€",
    "’",
    "*",
    "3",
    "0",
    "!",
    "а",
    "ｅ",
    "\n",
    "  ",
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.from_file(POLICY_DIR / "default.yaml")


def fuzzed_texts(count: int, seed: int = 11) -> list[str]:
    """Terms and numbers with noise put in, taken out or doubled: what agents and macros produce."""
    rng = random.Random(seed)
    words = [t.text for t in builtin_terms()]
    numbers = ["4970 1012 3456 7893", "FR76 3000 6000 0112 3456 7890 189", "1 85 05 78 006 084 91",
               "06 12 34 56 78", "+44 20 7946 0958", "claire.dupont@gmail.com", "2 99 12 2A 123 456 88"]  # fmt: skip
    texts = []
    for _ in range(count):
        base = rng.choice(words) if rng.random() < 0.6 else rng.choice(numbers)
        chars = list(base)
        for _ in range(rng.randrange(0, 3)):
            i = rng.randrange(len(chars) + 1)
            chars.insert(i, rng.choice(NOISE))
        if rng.random() < 0.3:
            i = rng.randrange(len(chars))
            chars[i] = chars[i] * rng.randrange(2, 4)
        word = "".join(chars)
        word = word.upper() if rng.random() < 0.2 else word
        texts.append(
            f"{rng.choice(['Bonjour, ', 'Hi ', '', 'Quel '])}{word}{rng.choice(['', ' !', ' thanks', '.'])}"
        )
    return texts


def test_screened_and_unscreened_findings_agree_on_the_labelled_set(policy: Policy) -> None:
    for row in load_rows():
        for audience in Audience:
            assert policy.findings(row["text"], audience) == policy.findings(
                row["text"], audience, screened=False
            ), row


def test_screened_and_unscreened_findings_agree_on_fuzzed_texts(policy: Policy) -> None:
    disagreements = [
        text
        for text in fuzzed_texts(3000)
        if policy.findings(text, Audience.PUBLIC) != policy.findings(text, Audience.PUBLIC, screened=False)
    ]
    assert disagreements == []


def test_clean_replies_pass_the_screen_without_a_look(policy: Policy) -> None:
    screen = Screen(builtin_terms(), [])
    for text in [
        "Bonjour Claire, désolés pour l’ttente, nous regardons tout de suite 🙂",
        "Thanks Kevin! ^AJ",
    ]:
        assert screen.look(text) == frozenset()


def test_screen_names_what_to_look_for() -> None:
    screen = Screen(builtin_terms(), [r"(?i)\bCMD-\d+"])
    assert screen.look("carte 4970 1012 3456 7893") >= {"personal:card", "personal:phone"}
    assert screen.look("écrivez à claire@b.fr") >= {"personal:email"}  # and leet-like "e@b"
    assert screen.look("quelle mérde") == {"term"}
    assert screen.look("désolés du retard") == {"term:en"}  # counts only in English text
    assert screen.look("sh1t") == {"disguise"}
    assert screen.look("cmd-12") == {"pattern:0"}
    assert screen.look("carte ４９７０") >= {"personal:*"}  # fullwidth digits also fold in the term view


def test_a_date_is_not_a_phone_number_but_a_short_national_number_is() -> None:
    french = Screen(builtin_terms(), [], "FR")
    assert french.look("crédité le 2026-11-24") == frozenset()  # eight digits: no French number is that short
    assert "personal:phone" in french.look("appelez le 06 12 34 56 78")
    assert "personal:phone" in french.look("call +45 33 12 34 56")
    danish = Screen(builtin_terms(), [], "DK")
    assert "personal:phone" in danish.look("ring 33 12 34 56")


def test_most_everyday_replies_cost_one_pass() -> None:
    """What keeps decisions fast: a clean reply needs no detector (a regression here is silent)."""
    from bench.policy_throughput import everyday_replies

    screen = Screen(builtin_terms(), [r"(?i)\b(?:CMD|ORD)[- ]?\d{6,10}\b"], "FR")
    positives = {row["text"] for row in load_rows() if row["kind"] == "positive"}
    clean = [text for text in everyday_replies() if text not in positives]
    looked = [text for text in clean if screen.look(text) - {"term:en"}]  # "retard": one cheap language guess
    assert len(looked) / len(clean) <= 0.02, looked[:5]


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_terms_under_two_combined_disguises_are_found_and_screened_alike(policy: Policy, seed: int) -> None:
    from bench.make_eval_set import CARRIERS, EN_TERMS, FR_TERMS, disguise

    rng = random.Random(seed)
    missed, disagreements = [], []
    for i in range(400):
        word, _ = disguise(rng, (FR_TERMS + EN_TERMS)[i % (len(FR_TERMS) + len(EN_TERMS))])
        with contextlib.suppress(IndexError, ValueError):  # a second disguise may not apply to the first
            word, _ = disguise(rng, word)
        text = rng.choice(CARRIERS).format(x=word)
        found = policy.findings(text, Audience.PUBLIC)
        if found != policy.findings(text, Audience.PUBLIC, screened=False):
            disagreements.append(text)
        if not found:
            missed.append(text)
    assert disagreements == []
    assert len(missed) <= 4, missed  # ≥ 99 %


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, SHUT \u00a0UP",  # a no-break space inside a phrase
        "Hi w\nt.f thanks",  # letters one by one across a line break
        "Quel p\ni  ss off.",  # … the last one stretched
        "Quel suc.er lla bite !",  # a language-scoped term: both paths guess the language alike
        "#7w47",  # one letter among leet characters
        "Quel péd€€é !",  # leet next to an accented letter
        "Hi dumb0 ",  # leet at the end, then only white space
    ],
)
def test_cases_fuzzing_found_are_screened_alike(policy: Policy, text: str) -> None:
    for audience in Audience:
        assert policy.findings(text, audience) == policy.findings(text, audience, screened=False)
