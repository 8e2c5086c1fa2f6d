"""Words with signs or digits in place of some of their letters (`sav_bridge.policy.signs`)."""

from __future__ import annotations

import pytest

from sav_bridge.policy.signs import disguised_words, spelling, spells


@pytest.mark.parametrize(
    ("word", "spelled"),
    [
        ("c$ier", "chier"),  # a sign for any letter
        ("sa%%pard", "salopard"),
        ("80110ck5", "bollocks"),  # digits for the letters they resemble
        ("аѕѕhо1е", "asshole"),  # look-alikes folded first, 1 for l
        ("ьi!cһ", "bitch"),
    ],
)
def test_a_disguised_word_spells_its_term(word: str, spelled: str) -> None:
    letters = spelling(word)
    assert letters is not None and spells(letters, spelled)
    assert not spells(letters, spelled[:-1] + "q")


@pytest.mark.parametrize("word", ["A55", "4x4", "merde", "b@@@b", "2024", "A320"])
def test_words_that_hide_too_much_or_nothing_are_not_read(word: str) -> None:
    assert spelling(word) is None


@pytest.mark.parametrize(
    "text",
    ["@jdoe_uk", "#s@le", "écrivez à claire@gmail.com", "voir x.com/s@it", "merci ^TG", "merci !"],
)
def test_handles_hashtags_addresses_and_initials_are_not_words(text: str) -> None:
    assert list(disguised_words(text)) == []


def test_dotted_pieces_are_one_word() -> None:
    [(start, end, letters)] = disguised_words("de la m3.r.d.3 !")
    assert (start, end) == (6, 14) and spells(letters, "merde")
