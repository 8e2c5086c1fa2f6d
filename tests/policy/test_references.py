"""Order, customer, contract and tracking numbers: masked in public after the word that names them, and
never the times, prices, dates, company numbers or quantities that only look like them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sav_bridge import POLICY_DIR
from sav_bridge.cli import main
from sav_bridge.model import Audience
from sav_bridge.policy import Policy
from sav_bridge.policy.masking import MASK
from sav_bridge.policy.references import References, context_words

PUBLIC, DM = Audience.PUBLIC, Audience.DM


@pytest.fixture(scope="module")
def default() -> Policy:
    return Policy.from_file(POLICY_DIR / "default.yaml")


@pytest.fixture(scope="module")
def detector() -> References:
    return References(context_words(None))


def policy(detector: str) -> Policy:
    rules = f"""\
        - id: refs
          detector: {detector}
          audience: public
          action: redact
        - id: phone
          detector: {{pii: phone}}
          audience: public
          action: require_dm
        - id: card
          detector: {{pii: card}}
          action: block
    """
    return Policy.from_text('version: "t-1"\nrules:\n' + textwrap.indent(textwrap.dedent(rules), "  "))


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        # French
        ("Votre commande CMD-2024-8841 est partie ce matin.", "CMD-2024-8841"),
        ("Bonjour, votre numéro client est le FR123456789.", "FR123456789"),
        ("Le colis 6A88577387965 arrive demain.", "6A88577387965"),
        ("Commande n° 4521 889, merci de votre patience.", "4521 889"),
        ("n°4521889 : remboursé.", "4521889"),
        ("N° de dossier : 2024/118872", "2024/118872"),
        ("Votre contrat AB-55120 est résilié au 1er mars.", "AB-55120"),
        ("Numéro de suivi : XY123456789FR", "XY123456789FR"),
        ("Votre identifiant client 45BX221 reste le même.", "45BX221"),
        ("Réf. A12B3 — nous revenons vers vous.", "A12B3"),
        ("La facture FAC-000123 est disponible.", "FAC-000123"),
        ("Le suivi de la lettre recommandée 1A01234567891 indique une remise.", "1A01234567891"),
        ("Sinistre 2025-SIN-00412 : l'expert passe jeudi.", "2025-SIN-00412"),
        ("L’abonnement 7788-1204 est suspendu.", "7788-1204"),
        ("Dans l'espace de l’adhérent 0045871, rubrique Contrats.", "0045871"),
        ("COMMANDE 99812345 EXPÉDIÉE", "99812345"),
        ("Votre réclamation #A78-221 est enregistrée.", "A78-221"),
        ("Le numéro de compte client 00012345 est bloqué.", "00012345"),
        # English
        ("Your order #A78-221 has shipped.", "A78-221"),
        ("Tracking 1Z999AA10123456784, due Friday.", "1Z999AA10123456784"),
        ("Your order number is ORD-55812.", "ORD-55812"),
        ("Account no. 00123456 has been credited.", "00123456"),
        ("Customer ID: 88213 — we've updated it.", "88213"),
        ("Your policy number AB-55120 is active.", "AB-55120"),
        ("The parcel JJD0001234567890 was delivered to a neighbour.", "JJD0001234567890"),
        ("Case 00458712 is now closed.", "00458712"),
        ("Invoice INV-2024-0042 is attached to your account.", "INV-2024-0042"),
        ("Your booking reference is QX7-55821.", "QX7-55821"),
        ("Contracts 88120045 was renewed.", "88120045"),
        ("Your return RMA 4488120 is approved.", "4488120"),
        ("Ticket #48812 escalated.", "48812"),
    ],
)
def test_a_reference_after_its_context_word_is_masked_but_its_end(
    default: Policy, text: str, reference: str
) -> None:
    decision = default.decide(text, PUBLIC)
    assert decision.action == "redact"
    assert decision.text is not None and reference not in decision.text
    start = text.index(reference)
    masked = decision.text[start : start + len(reference)]
    visible = [c for c in masked if c.isalnum()]
    characters = [c for c in reference if c.isalnum()]
    assert visible == characters[len(characters) - len(visible) :]  # only its last characters
    assert 2 <= len(visible) <= min(4, len(characters) // 2)
    assert MASK in masked
    assert [f.category for f in decision.findings] == ["reference"]


@pytest.mark.parametrize(
    "text",
    [
        "Votre commande CMD-2024-8841 est partie ce matin.",
        "Le colis 6A88577387965 arrive demain.",
        "Your order #A78-221 has shipped.",
        "Tracking 1Z999AA10123456784, due Friday.",
    ],
)
def test_in_a_dm_a_reference_is_sent_as_written(default: Policy, text: str) -> None:
    decision = default.decide(text, DM)
    assert (decision.action, decision.text) == ("allow", text)


@pytest.mark.parametrize(
    "text",
    [
        # times, prices, dates, percentages, quantities, versions, years
        "Votre commande arrive demain entre 14h30 et 16h.",
        "Votre commande passée à 10:45 est confirmée.",
        "La commande de 1299,90 € est remboursée.",
        "Your order total is $12.99, refunded today.",
        "Commande du 12/03/2024, livrée le 2024-03-15.",
        "Votre commande de 3 articles est prête.",
        "Our order volume grew 12% in 2024.",
        "Le contrat 2024 couvre la casse.",
        "Votre contrat de 24 mois se termine le 31.12.2025.",
        "This accounts for 45% of delays.",
        "Suivi disponible 24h/24 et 7j/7.",
        "Ticket v2.3.1 of the app fixes it.",
        "Il compte 1500 abonnés sur son compte.",
        "Your order 4521889 of 12 items",  # the order is masked, the quantity is not: checked below
        # company and tax numbers no context word introduces
        "SIRET 732 829 320 00074, RCS Nanterre.",
        "SIREN 732829320 — TVA FR44732829320.",
        "Notre n° SIRET 73282932000074 figure sur la facture.",
        "Our VAT number is GB123456789.",
        # hashtags, words, free text between the word and a number
        "Suivez #BlackFriday2024 et #Noel2024 !",
        "Votre commande arrive le 12 mars, colis en route depuis Lyon 3e.",
        "Your order will ship within 2 to 3 business days; order before 14:00.",
        "Merci pour votre commande. Appelez-nous au 3639 si besoin.",
        "",
        "Bonjour, nous regardons tout de suite. Désolés du retard !",
    ],
)
def test_innocent_look_alikes_are_posted_as_written(default: Policy, text: str) -> None:
    decision = default.decide(text, PUBLIC)
    if text.startswith("Your order 4521889"):
        assert decision.text == "Your order ••••889 of 12 items"
        return
    assert (decision.action, decision.text, decision.findings) == ("allow", text, ())


def test_a_list_of_references_is_masked_whole(default: Policy) -> None:
    decision = default.decide("Vos commandes 4521889, 4521890 et 4521891 sont parties.", PUBLIC)
    assert decision.text == "Vos commandes ••••889, ••••890 et ••••891 sont parties."
    decision = default.decide("Your orders #4521889 and #4521890 shipped", PUBLIC)
    assert decision.text == "Your orders #••••889 and #••••890 shipped"


def test_phone_numbers_and_cards_stay_their_own_detectors_findings(default: Policy) -> None:
    joined = default.decide("Réf 4521 06 12 34 56 78", PUBLIC)
    assert joined.action == "require_dm"
    assert {(f.category, f.start, f.end) for f in joined.findings} == {("reference", 4, 8), ("phone", 9, 23)}
    phone = default.decide("Numéro client : 06 12 34 56 78", PUBLIC)
    assert [f.category for f in phone.findings] == ["phone"]
    card = default.decide("Commande payée avec la carte n° 4970 1012 3456 7893", DM)
    assert card.action == "block" and [f.category for f in card.findings] == ["card"]


def test_context_words_are_read_with_any_case_accent_elision_or_plural(detector: References) -> None:
    for text in (
        "REFERENCE 4521889",
        "référence 4521889",
        "Numero client 4521889",
        "d’expédition 4521889",
        "l'abonné 4521889",
        "ORDERS 4521889",
        "tracking-number: 4521889",
    ):
        assert [m.value for m in detector.find(text)] == ["4521889"], text


def test_the_word_must_come_right_before_the_reference(detector: References) -> None:
    assert detector.find("Votre commande, expédiée depuis Lyon le 4521889") == []
    assert detector.find("order " + " " * 50 + "4521889") == []
    assert [m.value for m in detector.find("order n° : 4521889")] == ["4521889"]


def test_the_context_words_are_the_policys_per_language() -> None:
    only_french = policy("{reference: {words: {en: []}}}")
    assert only_french.decide("Votre commande 4521889", PUBLIC).action == "redact"
    assert only_french.decide("Your order 4521889", PUBLIC).action == "allow"
    own = policy("{reference: {words: {fr: [], en: [], de: [Bestellung]}}}")
    assert (
        own.decide("Ihre Bestellung 4521889 ist unterwegs", PUBLIC).text
        == "Ihre Bestellung ••••889 ist unterwegs"
    )
    assert own.decide("Votre commande 4521889", PUBLIC).action == "allow"


def test_keep_says_how_many_last_characters_stay_visible() -> None:
    assert (
        policy("{reference: {keep: 0}}").decide("commande CMD-2024-8841", PUBLIC).text
        == "commande •••-••••-••••"
    )
    assert (
        policy("{reference: {keep: 2}}").decide("commande CMD-2024-8841", PUBLIC).text
        == "commande •••-••••-••41"
    )
    assert policy("{reference: {}}").decide("commande CMD-2024-8841", PUBLIC).text == "commande •••-••••-8841"


def test_the_note_shows_only_the_end_of_the_reference(default: Policy) -> None:
    decision = default.decide("Votre commande CMD-2024-8841 est partie", PUBLIC)
    note = default.explain(decision)
    assert "order, customer or tracking reference ••••8841" in note
    assert "CMD-2024" not in note


def test_a_reference_rule_in_error_is_reported_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "refs.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: "1"
            rules:
              - id: refs
                detector:
                  reference:
                    words:
                      FR: [commande]
                    keep: 9
                action: redact
              - id: dashes
                detector:
                  reference:
                    words:
                      en: [order, "--"]
                action: redact
              - id: silent
                detector: {reference: {words: {fr: [], en: []}}}
                action: redact
            """
        ),
        encoding="utf-8",
    )
    assert main(["policy", "validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert f"{path}:7: rules[0].detector.reference.words.FR: must be a two-letter language code" in out
    assert f"{path}:8: rules[0].detector.reference.keep: 9 is greater than the maximum of 6" in out
    assert (
        f"{path}:14: rules[1].detector.reference.words.en[1]: rule 'dashes': the context word '--' has no"
        in out
    )
    assert f"{path}:17: rules[2].detector.reference.words: rule 'silent' can never fire" in out


def test_the_shipped_policy_lists_the_built_in_context_words() -> None:
    document = Policy.from_file(POLICY_DIR / "default.yaml")
    rule = next(r for r in document.rules if r.kind == "reference")
    assert context_words(rule.detector["reference"]["words"]) == context_words(None)
