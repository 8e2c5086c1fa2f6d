"""X's weighted length and numbered threads."""

from __future__ import annotations

import pytest

from sav_bridge.channels.x.text import split_for_thread, weighted_length


def test_weighted_length_counts_urls_as_23_and_cjk_double() -> None:
    assert weighted_length("a" * 10) == 10
    assert weighted_length("voir https://example.com/a/very/long/path/indeed") == 5 + 23
    assert weighted_length("日本") == 4


def test_short_reply_is_one_post_with_signature() -> None:
    assert split_for_thread("  Merci !  ", " ^AJ") == ["Merci ! ^AJ"]


def test_exactly_280_with_signature_stays_one_post() -> None:
    body = "a" * 276
    assert split_for_thread(body, " ^AJ") == [body + " ^AJ"]
    assert len(split_for_thread(body + "b", " ^AJ")) == 2


@pytest.mark.parametrize("sentences", [5, 9, 25])
def test_long_reply_is_split_at_sentences_with_counters_and_signature(sentences: int) -> None:
    body = " ".join(
        f"Phrase numéro {i} avec quelques mots pour remplir la réponse de l'agent." for i in range(sentences)
    )
    parts = split_for_thread(body, " ^AJ")
    total = len(parts)
    assert total > 1
    for i, part in enumerate(parts, 1):
        assert part.endswith(f" {i}/{total} ^AJ")
        assert weighted_length(part) <= 280
    assert " ".join(p.removesuffix(f" {i}/{total} ^AJ") for i, p in enumerate(parts, 1)) == body


def test_a_word_longer_than_a_post_is_split_not_dropped() -> None:
    word = "x" * 600
    parts = split_for_thread(word, " ^AJ")
    assert "".join(p.split(" ")[0] for p in parts) == word
    assert all(weighted_length(p) <= 280 for p in parts)
