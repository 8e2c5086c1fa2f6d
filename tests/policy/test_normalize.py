"""Normalisation: each disguise is folded, and every folded character maps back to the original."""

from __future__ import annotations

import pytest

from sav_bridge.policy.normalize import pii_view, term_view


@pytest.mark.parametrize(
    ("text", "folded", "step"),
    [
        ("ＭＥＲＤＥ", "merde", "homoglyphs/accents"),  # fullwidth, NFKC
        ("fu\u200bck", "fuck", "zero-width"),
        ("сonnard", "conard", "homoglyphs/accents"),  # Cyrillic с, and nn squeezed
        ("𝐦𝐞𝐫𝐝𝐞", "merde", "homoglyphs/accents"),  # mathematical bold
        ("enculé", "encule", "homoglyphs/accents"),
        ("f.u.c.k", "fuck", "spaced letters"),
        ("p u t a i n", "putain", "spaced letters"),
        ("m3rde", "merde", "leet"),
        ("sh1t!", "shit!", "leet"),
        ("merdeeee", "merde", "repeated letters"),
    ],
)
def test_each_disguise_is_folded_and_named(text: str, folded: str, step: str) -> None:
    view = term_view(text, track=True)
    assert view.text == folded
    assert step in view.steps


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Thanks!!!! see you", "thanks!!!! se you"),  # a trailing ! is punctuation, not an i
        ("@sh1tbank", "@sh1tbank"),  # a handle is not a word to decode
        ("Offre à 50 €", "ofre a 50 €"),  # digits outside words stay digits
    ],
)
def test_leet_is_decoded_only_inside_words(text: str, folded: str) -> None:
    assert term_view(text).text == folded


def test_offsets_map_each_folded_character_back_to_the_original() -> None:
    text = "Quelle m\u200b3rdeeee, vraiment"
    view = term_view(text, track=True)
    start = view.text.index("merde")
    first, last = view.span(start, start + len("merde"))
    assert text[first:last] == "m\u200b3rdeeee"


def test_repeated_letters_remember_their_run_lengths() -> None:
    view = term_view("as soon as possible 🙂", track=True)
    assert view.text.startswith("as son as")
    assert not view.has_runs(0, (1, 2))  # "as" is not "ass"
    assert term_view("asss", track=True).has_runs(0, (1, 2))


def test_pii_view_keeps_case_and_digits_but_drops_invisible_characters() -> None:
    view = pii_view("FR76\u200b3000 ＯＫ 4970", track=True)
    assert view.text == "FR763000 OK 4970"  # no leet: O stays a letter
    assert view.span(4, 8) == (5, 9)
