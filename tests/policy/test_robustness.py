"""Whatever an agent or a macro pastes, a decision is made: no crash, spans inside the text."""

from __future__ import annotations

import random

from sav_bridge import POLICY_DIR
from sav_bridge.model import Audience
from sav_bridge.policy import Policy

POOLS = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJ", "0123456789", " .-_/\\*#@$!|€", "éèàçôœÉÀ’«»",
         "\u200b\u200d\u2060\ufeff\u00ad", "сорхаеі", "𝐦𝐞𝐫𝐝𝐞𝟒𝟗", "ＭＥＲＤＥ４９", "😀🙏👍🏽\u0301\u0308", "\n\t  ",
         "ßİıĳﬁ", "١٢٣٤٥٦", "עברית", "①②③"]  # fmt: skip
PIECES = ["merde", "fuck", "4970 1012 3456 7893", "FR76 3000 6000 0112 3456 7890 189", "06 12 34 56 78",
          "a@b.fr", "con", "ass", "sh1t", "CMD-1234567"]  # fmt: skip


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = [
            rng.choice(PIECES)
            if rng.random() < 0.3
            else "".join(rng.choices(rng.choice(POOLS), k=rng.randrange(1, 8)))
            for _ in range(rng.randrange(1, 12))
        ]
        texts.append(("" if rng.random() < 0.5 else " ").join(parts))
    return texts


def test_random_unicode_always_gets_a_consistent_decision() -> None:
    policy = Policy.from_file(POLICY_DIR / "default.yaml")
    for text in random_texts(1500, seed=5):
        for audience in Audience:
            decision = policy.decide(text, audience)
            assert all(0 <= f.start < f.end <= len(text) for f in decision.findings), text
            if decision.action == "redact":
                assert decision.text is not None and len(decision.text) == len(text)
            assert policy.explain(decision) or not decision.findings


def test_a_long_paste_is_decided_too() -> None:
    policy = Policy.from_file(POLICY_DIR / "default.yaml")
    text = "Bonjour, " + "voici le détail de votre relevé. " * 300 + "Carte 4970 1012 3456 7893."
    decision = policy.decide(text, Audience.PUBLIC)
    assert decision.action == "block" and text[decision.findings[0].start :].startswith("4970")
