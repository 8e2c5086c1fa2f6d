"""Personal data: candidates confirmed by validators, spans in the original text."""

from __future__ import annotations

import pytest

from sav_bridge.policy.pii import KINDS, card_issuer, find

ALL = frozenset(KINDS)


def kinds_in(text: str, region: str = "FR") -> list[tuple[str, str]]:
    return [(m.kind, text[m.start : m.end]) for m in find(text, ALL, region)]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("carte 4970 1012 3456 7893 svp", "4970 1012 3456 7893"),  # Visa, spaces
        ("card 2221-0000-0000-0009 ok", "2221-0000-0000-0009"),  # Mastercard 2-series, dashes
        ("n° 5555555555554444.", "5555555555554444"),  # Mastercard 5-series, no separator
        ("amex 3782 822463 10005", "3782 822463 10005"),  # 15 digits, 4-6-5
        ("diners 3056.9309.0259.04", "3056.9309.0259.04"),  # 14 digits, dots
        ("JCB 3530111333300000", "3530111333300000"),
        ("visa 19 chiffres 4000 0000 0000 0000 006", "4000 0000 0000 0000 006"),
    ],
)
def test_card_numbers_are_found_in_any_layout(text: str, number: str) -> None:
    assert kinds_in(text) == [("card", number)]


@pytest.mark.parametrize(
    "text",
    [
        "commande 4970 1012 3456 7890",  # Luhn fails
        "ref 9999 9999 9999 9995",  # Luhn passes, no issuer starts with 9
        "SIRET 301 514 329 00871",  # a Luhn-valid company number, not a Diners card
        "montant 1 234 567,89 €",
    ],
)
def test_numbers_that_are_not_cards_are_left_alone(text: str) -> None:
    assert [k for k, _ in kinds_in(text)] == []


def test_card_issuer_follows_current_ranges() -> None:
    assert card_issuer("2720990000000007") == "mastercard"
    assert card_issuer("2721000000000000") is None
    assert card_issuer("6011000990139424") == "discover"


@pytest.mark.parametrize(
    ("text", "iban"),
    [
        ("IBAN FR76 3000 6000 0112 3456 7890 189 merci", "FR76 3000 6000 0112 3456 7890 189"),
        ("DE89370400440532013000", "DE89370400440532013000"),
        ("gb29 nwbk 6016 1331 9268 19", "gb29 nwbk 6016 1331 9268 19"),
        ("IBAN: BE71.0961.2345.6769.", "BE71.0961.2345.6769"),
        ("NL91ABNA0417164300 is ours", "NL91ABNA0417164300"),
    ],
)
def test_ibans_of_every_country_are_checked_with_mod_97(text: str, iban: str) -> None:
    assert kinds_in(text) == [("iban", iban)]


def test_an_iban_with_a_wrong_check_is_not_reported() -> None:
    assert kinds_in("FR77 3000 6000 0112 3456 7890 189") == []


@pytest.mark.parametrize(
    "nir",
    [
        "185057800608491",
        "1 85 05 78 006 084 91",
        "2 99 12 2A 123 456 88",  # Corsica
        "1 80 01 2B 050 123 48",
    ],
)
def test_french_social_security_numbers_with_a_valid_key(nir: str) -> None:
    assert kinds_in(f"NIR {nir} noté") == [("nir", nir)]


def test_a_nir_with_a_wrong_key_is_not_reported() -> None:
    assert kinds_in("NIR 1 85 05 78 006 084 92") == []


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("écrivez à claire.dupont@gmail.com.", "claire.dupont@gmail.com"),
        ("mail: j+sav@mail.example.co.uk", "j+sav@mail.example.co.uk"),
        ("théodore.gillet@bernard.fr", "théodore.gillet@bernard.fr"),
    ],
)
def test_email_addresses(text: str, email: str) -> None:
    assert kinds_in(text) == [("email", email)]


def test_a_handle_is_not_an_email() -> None:
    assert kinds_in("merci @MaBanque pour la réponse") == []


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Appelez le 06 12 34 56 78 svp", "06 12 34 56 78"),
        ("tel 01.23.45.67.89", "01.23.45.67.89"),
        ("au +33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("au +33 (0)1 23 45 67 89", "+33 (0)1 23 45 67 89"),
        ("London +44 20 7946 0958", "+44 20 7946 0958"),
    ],
)
def test_phone_numbers_french_and_international(text: str, phone: str) -> None:
    assert kinds_in(text) == [("phone", phone)]


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("Réf 4521 06 12 34 56 78", ["06 12 34 56 78"]),  # joined to a reference
        ("au 06 12 34 56 78 07 98 76 54 32", ["06 12 34 56 78", "07 98 76 54 32"]),  # two side by side
        ("Tel 06 12 34 56 78 / 07 98 76 54 32", ["06 12 34 56 78", "07 98 76 54 32"]),
        ("IBAN FR76 3000 6000 0112 3456 7890 189 06 12 34 56 78", ["06 12 34 56 78"]),  # after an IBAN
        ("NIR 1 85 05 78 006 084 92", []),  # a NIR with a typo: "05 78 006 084" is not grouped as a phone
        ("commande n° 300275006", []),  # nine digits without the trunk 0: not written as a French number
    ],
)
def test_phone_numbers_inside_longer_runs_of_digits(text: str, phones: list[str]) -> None:
    assert [found for kind, found in kinds_in(text) if kind == "phone"] == phones


def test_phone_region_decides_numbers_without_country_code() -> None:
    text = "call (415) 555-2671 today"
    assert kinds_in(text, "FR") == []
    assert kinds_in(text, "US") == [("phone", "(415) 555-2671")]


def test_spans_point_into_the_original_text_when_it_has_invisible_characters() -> None:
    text = "carte\u200b 4970\u200b1012 3456 7893 🙂"
    [match] = find(text, ALL)
    assert text[match.start : match.end] == "4970\u200b1012 3456 7893"
    assert "zero-width" in match.revealed_by
    assert match.validators["luhn"] is True
