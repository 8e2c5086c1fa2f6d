"""Phone numbers as people write them (issue 10), in French and English, and the innocent look-alikes
that must stay clean: each family found by `pii.find`, screened alike, and decided by the default policy."""

from __future__ import annotations

import textwrap

import pytest

from sav_bridge import POLICY_DIR
from sav_bridge.errors import PolicyError
from sav_bridge.model import Audience
from sav_bridge.policy import Policy
from sav_bridge.policy.document import examine
from sav_bridge.policy.pii import KINDS, find

ALL = frozenset(KINDS)
PUBLIC, DM = Audience.PUBLIC, Audience.DM


def phones_in(text: str, region: str = "FR") -> list[str]:
    return [text[m.start : m.end] for m in find(text, ALL, region) if m.kind == "phone"]


def numbers_in(text: str, region: str = "FR") -> list[str]:
    """The E.164 form of each phone number found."""
    return [m.value for m in find(text, ALL, region) if m.kind == "phone"]


@pytest.fixture(scope="module")
def default() -> Policy:
    return Policy.from_file(POLICY_DIR / "default.yaml")


NATIONAL = [
    ("FR", "Appelez-nous au 06 12 34 56 78, merci.", "06 12 34 56 78"),
    ("FR", "Mon portable : 06.12.34.56.78", "06.12.34.56.78"),
    ("FR", "tel 06-12-34-56-78", "06-12-34-56-78"),
    ("FR", "Vous pouvez nous joindre au 01/45/67/89/10.", "01/45/67/89/10"),
    ("FR", "Rappelez-moi au 0612345678 svp", "0612345678"),
    ("FR", "joignable au 0145678910 de 9 h à 18 h", "0145678910"),
    ("FR", "Numéro vert : 0 800 123 456", "0 800 123 456"),
    ("FR", "Mon fixe : 04\u00a072\u00a012\u00a034\u00a056", "04\u00a072\u00a012\u00a034\u00a056"),
    ("FR", "au 06\u202f12\u202f34\u202f56\u202f78 (espaces fines)", "06\u202f12\u202f34\u202f56\u202f78"),
    ("GB", "Call me on 07911 123456 after six.", "07911 123456"),
    ("GB", "Our landline is 020 7946 0958.", "020 7946 0958"),
    ("GB", "Text 07911123456 to confirm.", "07911123456"),
    ("GB", "Ring 0161 496 0000 any time", "0161 496 0000"),
    ("US", "Please call 415-555-2671 tomorrow.", "415-555-2671"),
    ("US", "call 415.555.2671", "415.555.2671"),
    ("US", "Call 1-800-555-0199 now", "1-800-555-0199"),
]
PARENTHESES = [
    ("FR", "Le standard : (01) 45 67 89 10", "(01) 45 67 89 10"),
    ("FR", "Depuis l'étranger : +33 (0)1 45 67 89 10", "+33 (0)1 45 67 89 10"),
    ("FR", "Mon numéro (+33) 6 12 34 56 78", "(+33) 6 12 34 56 78"),
    ("FR", "portable +33(0)612345678", "+33(0)612345678"),
    ("GB", "Our office: (020) 7946 0958", "(020) 7946 0958"),
    ("GB", "From abroad: +44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
    ("US", "call (415) 555-2671", "(415) 555-2671"),
    ("US", "or +1 (415) 555-2671 from Europe", "+1 (415) 555-2671"),
]
INTERNATIONAL = [
    ("FR", "au +33 6 12 34 56 78", "+33 6 12 34 56 78"),
    ("FR", "au +33612345678", "+33612345678"),
    ("FR", "au + 33 6 12 34 56 78", "+ 33 6 12 34 56 78"),
    ("FR", "au 0033 6 12 34 56 78", "0033 6 12 34 56 78"),
    ("FR", "au 0033612345678", "0033612345678"),
    ("FR", "Appelez le 00 33 6 12 34 56 78", "00 33 6 12 34 56 78"),
    ("FR", "WhatsApp : 33 6 12 34 56 78", "33 6 12 34 56 78"),  # neither + nor 00
    ("FR", "Écrivez-moi sur WhatsApp au 33612345678", "33612345678"),
    ("FR", "son portable belge +32 470 12 34 56", "+32 470 12 34 56"),
    ("FR", "numéro suisse +41 79 123 45 67", "+41 79 123 45 67"),
    ("FR", "à Montréal : +1 514 555 0199", "+1 514 555 0199"),
    ("FR", "dial 0044 20 7946 0958 from France", "0044 20 7946 0958"),
    ("GB", "Call us on +33 1 45 67 89 10 from abroad", "+33 1 45 67 89 10"),
    ("GB", "My Paris number is 0033 1 45 67 89 10", "0033 1 45 67 89 10"),
    ("US", "Our UK desk: 44 20 7946 0958", "44 20 7946 0958"),
]
LINE_BREAK = [
    ("FR", "appelez le 06 12 34\n56 78 demain", "06 12 34\n56 78"),
    ("FR", "+33 6 12\n34 56 78", "+33 6 12\n34 56 78"),
    ("FR", "au 01 45 67\r\n89 10, merci", "01 45 67\r\n89 10"),
    ("FR", "au 06 12 34 56 \n 78", "06 12 34 56 \n 78"),
    ("FR", "portable :\n06.12.34.\n56.78", "06.12.34.\n56.78"),
    ("GB", "Call me on 07911\n123456", "07911\n123456"),
    ("US", "call (415)\n555-2671", "(415)\n555-2671"),
]


@pytest.mark.parametrize(("region", "text", "phone"), NATIONAL + PARENTHESES + INTERNATIONAL + LINE_BREAK)
def test_phone_numbers_as_people_write_them(region: str, text: str, phone: str) -> None:
    assert phones_in(text, region) == [phone]


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("notre nouvelle ligne 07 00 12 34 56", "+33700123456"),  # a range not open yet
        ("+33 7 00 12 34 56", "+33700123456"),
        ("0033 7 00 12 34 56", "+33700123456"),
        ("Tél : 0700123456", "+33700123456"),  # in one piece, but a word says phone
        ("+44 7700 900123", "+447700900123"),  # Ofcom's range for drama
        ("Contact +1 555 0100", None),  # seven digits: possible only locally, so nothing
    ],
)
def test_possible_but_not_valid_numbers_written_as_numbers(text: str, e164: str | None) -> None:
    found = find(text, ALL, "FR")
    assert [m.value for m in found] == ([e164] if e164 else [])
    assert all(m.validators == {"phonenumbers_possible": True} for m in found)


@pytest.mark.parametrize(
    "text",
    [
        "Mon numéro : 0700123456",  # one piece, no word that says phone: could be anything
        "réf 07 0012 3456",  # not grouped as the plan writes numbers
        "code 0000 0000 00",
    ],
)
def test_possible_numbers_need_to_be_written_as_phone_numbers(text: str) -> None:
    assert phones_in(text) == []


@pytest.mark.parametrize(
    ("text", "e164", "region"),
    [
        ("ma mère à La Réunion : 0692 12 34 56", "+262692123456", "RE"),
        ("+33 6 92 12 34 56", "+262692123456", "RE"),  # dialled with the mainland code
        ("0033 692 12 34 56", "+262692123456", "RE"),
        ("en Guadeloupe : 0590 12 34 56", "+590590123456", "GP"),
        ("au 06 90 12 34 56", "+590690123456", "GP"),
        ("Cayenne, 06 94 12 34 56", "+594694123456", "GF"),
        ("Fort-de-France 0696 12 34 56", "+596696123456", "MQ"),
        ("Mayotte : 0639 01 23 45", "+262639012345", "YT"),
    ],
)
def test_overseas_departments_dialled_as_french_numbers(text: str, e164: str, region: str) -> None:
    [match] = find(text, ALL, "FR")
    assert (match.kind, match.value) == ("phone", e164)
    assert match.validators == {"phonenumbers_valid": True, f"region:{region}": True}


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("Please call (415) 555-2671 tomorrow.", "+14155552671"),  # English: the United States …
        ("Please call 4155552671 tomorrow.", "+14155552671"),  # … in one piece after "call"
        ("Call us on 020 7946 0958 anytime.", "+442079460958"),  # … or the United Kingdom
        ("Ring our London office on 0161 496 0000.", "+441614960000"),
        ("Thanks, you can reach me at 07911 123456.", "+447911123456"),
        ("Notre agence de Bruxelles : 02 555 12 12.", "+3225551212"),  # French: Belgium too
        ("Appelez le 06 12 34 56 78", "+33612345678"),  # the policy's own region first
    ],
)
def test_the_region_is_guessed_from_the_text_after_the_policy_region(text: str, e164: str) -> None:
    assert numbers_in(text, "FR") == [e164]


def test_a_region_the_text_only_suggests_reads_grouped_numbers_only() -> None:
    assert phones_in("Your parcel 02079460958 left our depot.") == []  # could be a parcel number
    assert phones_in("Your parcel 4155552671 left our depot.") == []
    assert phones_in("Your order 1234 5678 901 has shipped.") == []  # +1 234 567 8901, not grouped so
    assert phones_in("We have 2 125 551 234 customers") == []
    assert phones_in("Your order 1234 5678 901 has shipped.", "GB") == []
    assert phones_in("Appelez le 06 12 34 56 78", "GB") == ["06 12 34 56 78"]  # French text, GB policy


INNOCENT = [
    # amounts
    "un virement de 1 234 567,89 € le 24/11/2026",
    "montant : 12 345 678 €",
    "Nous avons crédité 1 200 000 000 euros",
    "We refunded 2 345 678 901 EUR to your account.",
    "Total: $ 2 345 678 901",
    "£ 12 345 678 901 paid",
    "Les 10 000 000 premiers clients",
    "We have 12,345,678 customers",
    # dates and times
    "le 24/11/2026 à 14h30",
    "crédité le 2026-11-24",
    "Livraison du 01/12/2026 au 15/12/2026",
    "Période 01/12/2026-15/12/2026",
    "Your payment was taken on 2026-11-24 10:30:00.",
    "On 2026-11-24 10:30 we sent it.",
    "Le 24.11.2026 09:15, votre colis est parti",
    "ouvert de 08:30 à 18:30",
    "horaires 08.30-12.00 / 14.00-18.30",
    "We are open 09.00-17.30 Monday to Friday, 10.00-16.00 on Saturday.",
    # order, tracking and customer numbers
    "commande n° 300275006",
    "Votre commande 0612345678 est partie",
    "numéro client 0102030405",
    "Your order #1234567890 has shipped.",
    "Your order 402-1234567-1234567 has shipped.",
    "Recapping: tracking 253-4788039-7088660",
    "Order no. 0612345678 shipped",
    "réf. 4521-8890-1234",
    "Le dossier 2024-000123456 est clos",
    "Ticket #20241124-0001234",
    "le colis 6A12345678901",
    "tracking 1Z999AA10123456784",
    "Tracking number 9400 1000 0000 0000 0000 00",
    # company and tax identifiers
    "SIRET 732 829 320 00074",
    "SIREN 732 829 320",
    "RCS Paris B 732 829 320",
    "TVA FR 44 732829320",
    "N° TVA : FR44732829320",
    "TVA intracommunautaire : FR 44 732 829 320",
    "VAT number: BE 0403 170 701",
    # postal codes, years, versions and other numbers
    "12 rue de la Paix, 75002 Paris",
    "BP 40123 75011 Paris Cedex 11",
    "ZIP 94103-1234, San Francisco",
    "de 2019 à 2024",
    "Years 2019-2024 2025-2026",
    "Contrats 1998/2024 et 2005-2010",
    "version 10.0.19045.3803",
    "Windows 10.0.19045.3803",
    "v2.10.4.1234",
    "build 2024.11.23.0815",
    "EAN 3 760123 456789",
    "serveur 192.168.100.200",
    "pi vaut 3,14159265358",
    "score 10 12 14 16 18 20",
    "Votre code : 4521 8890 12",
    "NIR 1 85 05 78 006 084 92",  # a NIR with a typo: its middle is not a phone number
]


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_look_alikes_are_not_phone_numbers(text: str) -> None:
    assert phones_in(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "We refunded 2 345 678 901 EUR to your account.",
        "Your payment was taken on 2026-11-24 10:30:00.",
        "Your order 402-1234567-1234567 has shipped.",
        "ZIP 94103-1234, San Francisco",
        "Years 2019-2024 2025-2026",
        "version 10.0.19045.3803",
        "We have 12,345,678 customers",
        "Ticket #20241124-0001234",
        "Tracking number 9400 1000 0000 0000 0000 00",
    ],
)
@pytest.mark.parametrize("region", ["GB", "US"])
def test_innocent_look_alikes_in_english_policies(text: str, region: str) -> None:
    assert phones_in(text, region) == []


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("carte 4970 1012 3456 7893", ["card"]),  # a card's digits hold no phone number
        ("IBAN FR76 3000 6000 0112 3456 7890 189", ["iban"]),
        ("NIR 1 85 05 78 006 084 91", ["nir"]),
        ("IBAN FR76 3000 6000 0112 3456 7890 189 06 12 34 56 78", ["iban", "phone"]),
        ("carte 4970 1012 3456 7893, tel 06 12 34 56 78", ["card", "phone"]),
    ],
)
def test_cards_ibans_and_nirs_take_precedence(text: str, kinds: list[str]) -> None:
    assert [m.kind for m in find(text, ALL, "FR")] == kinds


POSITIVES = [text for _, text, _ in NATIONAL + PARENTHESES + INTERNATIONAL + LINE_BREAK]


@pytest.mark.parametrize("text", POSITIVES + INNOCENT)
def test_the_screen_lets_every_family_through(default: Policy, text: str) -> None:
    for audience in Audience:
        assert default.findings(text, audience) == default.findings(text, audience, screened=False)


@pytest.mark.parametrize(("region", "text", "phone"), NATIONAL + PARENTHESES + INTERNATIONAL + LINE_BREAK)
def test_every_family_moves_to_dm_under_the_default_policy(region: str, text: str, phone: str) -> None:
    document = (
        (POLICY_DIR / "default.yaml")
        .read_text(encoding="utf-8")
        .replace("phone_region: FR", f"phone_region: {region}")
    )
    policy = Policy.from_text(document)
    decision = policy.decide(text, PUBLIC)
    assert decision.action == "require_dm" and decision.text is None
    assert policy.decide(text, DM).action == "allow"


SERVICE = textwrap.dedent("""\
    version: "t-1"
    settings:
      phone_region: FR
      service_numbers: ["+33 9 69 39 99 99", "3639", "0800 123 456"]
    rules:
      - {id: phone, detector: {pii: phone}, audience: public, action: require_dm}
    """)


@pytest.mark.parametrize(
    "text",
    [
        "Appelez le 09 69 39 99 99 ou le 3639.",
        "Depuis l'étranger : +33 9 69 39 99 99",
        "Depuis l'étranger : +33 (0)9 69 39 99 99",
        "au 0033 9 69 39 99 99",
        "au 0969399999",
        "au 09.69.39.99.99",
        "au 09 69 39\n99 99",
        "Numéro vert 0 800 123 456 (gratuit)",
    ],
)
def test_the_brands_own_service_numbers_are_never_findings(text: str) -> None:
    policy = Policy.from_text(SERVICE)
    assert policy.findings(text, PUBLIC) == ()
    assert policy.decide(text, PUBLIC).action == "allow"


def test_a_customers_number_next_to_a_service_number_is_still_found() -> None:
    policy = Policy.from_text(SERVICE)
    text = "Appelez le 09 69 39 99 99, ou nous vous rappelons au 06 12 34 56 78."
    decision = policy.decide(text, PUBLIC)
    assert decision.action == "require_dm"
    assert [text[f.start : f.end] for f in decision.findings] == ["06 12 34 56 78"]


def test_service_numbers_are_checked_when_the_policy_is_validated() -> None:
    document = SERVICE.replace('"0800 123 456"', '"12 ab", "+33 1"')
    _, problems = examine(document)
    assert [(p.line, p.key) for p in problems] == [
        (4, "settings.service_numbers[2]"),
        (4, "settings.service_numbers[3]"),
    ]
    assert "'12 ab' is not a phone number" in problems[0].problem
    with pytest.raises(PolicyError):
        Policy.from_text(document)
