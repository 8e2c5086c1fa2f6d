"""Term lists: disguised terms are found in French and English; innocent look-alikes are not."""

from __future__ import annotations

import pytest

from sav_bridge.policy.terms import Lexicon, Term, builtin_terms, load_terms


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon(builtin_terms())


@pytest.mark.parametrize(
    ("text", "term", "revealed"),
    [
        ("Quelle merde ce service", "merde", ()),
        ("c'est de la m3rde", "merde", ("leet",)),
        ("f.u.c.k you", "fuck", ("spaced letters",)),
        ("fu\u200bck", "fuck", ("zero-width",)),
        ("espèce de сonnard", "connard", ("homoglyphs/accents",)),  # Cyrillic с
        ("merdeeee", "merde", ("repeated letters",)),
        ("what the f*ck", "fuck", ("mask",)),
        ("m*rde alors", "merde", ("mask",)),
        (
            "You are such a s l u t.",
            "slut",
            ("spaced letters",),
        ),  # "a s l u t": the article is not part of it
        ("a$$hole", "asshole", ("leet",)),
        ("what a 7w47", "twat", ("leet",)),  # one real letter
        ("Bonjour, trou\u00a0 du cul", "trou du cul", ("white space",)),  # a no-break space in a phrase
        ("tu es abrutii*i", "abruti", ("mask",)),  # a mask in a stretched run
        ("ENCULÉ", "enculé", ()),
        ("bande de connardises", "connard", ()),  # prefix entry; "bande" is not "bandé"
    ],
)
def test_disguised_terms_are_found_with_the_step_that_revealed_them(
    lexicon: Lexicon, text: str, term: str, revealed: tuple[str, ...]
) -> None:
    [match] = lexicon.scan(text)
    assert match.term.text == term
    for step in revealed:
        assert step in match.revealed_by


@pytest.mark.parametrize(
    "text",
    [
        "Désolés du retard, votre colis arrive demain.",
        "Le fichier PDF est dans votre espace.",
        "Notre équipe technique regarde.",
        "We ship to Scunthorpe, Essex and Sussex.",
        "as soon as possible 🙂",  # squeezed "as" must not meet "ass"
        "tant pis 🙂",  # nor "pis" meet "piss"
        "Le chat en ligne est ouvert.",
        "Nous sommes concernés par votre remarque.",
        "Il habite dans un cul-de-sac.",  # the term's own allow-list
        "Livraison à Bitche en Moselle.",
        "A bite-sized summary.",  # "bite" counts only in French text
        "Thanks!!!! Your assessment is complete.",
        "@sh1tbank n'est pas notre compte",
        "Nous allons baisser vos frais dès ce mois-ci 🙂",  # a doubled letter is spelling: not "baiser"
        "Mr Pratt will call you back.",  # nor is "Pratt" a stretched "prat"
        "She graduated magna cum laude, congratulations!",
        "The PD of Springfield confirmed it.",  # "pd" is a slur only in French
    ],
)
def test_innocent_look_alikes_are_not_terms(lexicon: Lexicon, text: str) -> None:
    assert lexicon.scan(text) == []


def test_polysemous_words_count_only_in_their_language(lexicon: Lexicon) -> None:
    assert [m.term.text for m in lexicon.scan("Tu es vraiment con, toi")] == ["con"]
    assert lexicon.scan("We are con artists' worst enemy") == []


def test_only_the_steps_that_revealed_the_term_are_named(lexicon: Lexicon) -> None:
    [match] = lexicon.scan("Désolé, quelle m3rde 🙂")  # the accent of "Désolé" revealed nothing
    assert match.revealed_by == ("leet",)


def test_spans_point_into_the_original_text(lexicon: Lexicon) -> None:
    text = "Bon, quelle m\u200b3rdeeee 🙂"
    [match] = lexicon.scan(text)
    assert text[match.start : match.end] == "m\u200b3rdeeee"


def test_overlapping_entries_give_one_match_per_place(lexicon: Lexicon) -> None:
    matches = lexicon.scan("va te faire foutre")
    assert [m.term.text for m in matches] == ["va te faire foutre"]


def test_term_file_columns_are_checked() -> None:
    [term] = load_terms(["cul\tfr\tvulgar\tblock\tword\tlang\tcul-de-sac|cul de sac"])
    assert term == Term("cul", "fr", "vulgar", "block", "word", "lang", ("cul-de-sac", "cul de sac"))
    with pytest.raises(ValueError, match="line 1"):
        load_terms(["cul\tfr"])


def test_builtin_lists_cover_both_languages_and_every_category() -> None:
    seen = {(t.lang, t.category) for t in builtin_terms()}
    assert {(lang, c) for lang in ("fr", "en") for c in ("vulgar", "sexual", "insult")} <= seen
