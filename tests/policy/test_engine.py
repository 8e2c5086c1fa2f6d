"""Decisions: every action, precedence, exceptions, redaction, audiences, and explanations."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sav_bridge import POLICY_DIR
from sav_bridge.errors import PolicyError
from sav_bridge.model import Audience
from sav_bridge.policy import Policy

PUBLIC, DM = Audience.PUBLIC, Audience.DM
CARD = "4970 1012 3456 7893"
IBAN = "FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture(scope="module")
def default() -> Policy:
    return Policy.from_file(POLICY_DIR / "default.yaml")


def policy(rules: str, **settings: str) -> Policy:
    extra = "".join(f"\n  {k}: {v}" for k, v in settings.items())
    header = f'version: "t-1"\nsettings:{extra or " {}"}\nrules:\n'
    return Policy.from_text(header + textwrap.indent(textwrap.dedent(rules), "  "))


@pytest.mark.parametrize(
    ("text", "audience", "action"),
    [
        ("Bonjour, nous regardons tout de suite. Désolés du retard !", PUBLIC, "allow"),
        (f"Votre carte {CARD} est bloquée", PUBLIC, "block"),
        (f"Votre carte {CARD} est bloquée", DM, "block"),  # cards never, not even in DM
        (f"IBAN {IBAN}", PUBLIC, "block"),
        (f"IBAN {IBAN}", DM, "redact"),  # masked but its last four characters
        ("Rappelez-nous au 06 12 34 56 78", PUBLIC, "require_dm"),
        ("Rappelez-nous au 06 12 34 56 78", DM, "allow"),
        ("Écrivez à claire.dupont@gmail.com", PUBLIC, "redact"),
        ("Écrivez à claire.dupont@gmail.com", DM, "allow"),
        ("Quel bordel ce matin, désolés", PUBLIC, "warn"),
        ("Quelle m3rde, désolés", DM, "block"),
        ("NIR 1 85 05 78 006 084 91", DM, "block"),
        ("Votre commande CMD-1234567 est partie", PUBLIC, "redact"),
        ("Référence CMD-1234567", PUBLIC, "redact"),  # "référence" names it too (issue 10)
        ("Votre commande CMD-1234567 est partie", DM, "allow"),
        ("Livraison le 12/03/2024 à 14h30, 49,90 € (SIRET 732 829 320 00074)", PUBLIC, "allow"),
        ("Bienvenue à Scunthorpe et dans l'Essex 🙂", PUBLIC, "allow"),
    ],
)
def test_default_policy_decisions(default: Policy, text: str, audience: Audience, action: str) -> None:
    assert default.decide(text, audience).action == action


def test_typed_initials_are_a_signature_not_a_term(default: Policy) -> None:
    assert default.decide("Bonne journée, à bientôt ! ^PD", PUBLIC).action == "allow"
    assert default.decide("Vous êtes vraiment un PD", PUBLIC).action == "block"


def test_block_wins_over_everything_and_posts_nothing(default: Policy) -> None:
    decision = default.decide(f"Carte {CARD}, tel 06 12 34 56 78, mail a.b@gmail.com, merde", PUBLIC)
    assert decision.action == "block" and decision.text is None
    assert {f.rule for f in decision.findings} == {
        "card-number",
        "phone-public",
        "email-public",
        "terms-block",
    }


def test_require_dm_wins_over_redact() -> None:
    p = policy("""
        - {id: phone, detector: {pii: phone}, audience: public, action: require_dm}
        - {id: mail, detector: {pii: email}, action: redact}
        """)
    assert p.decide("06 12 34 56 78 ou a.b@gmail.com", PUBLIC).action == "require_dm"


def test_redaction_masks_and_keeps_the_last_four_digits() -> None:
    p = policy("""
        - {id: card, detector: {pii: card}, action: redact}
        - {id: mail, detector: {pii: email}, action: redact}
        """)
    decision = p.decide(f"Carte {CARD}, mail claire@gmail.com.", PUBLIC)
    assert decision.action == "redact"
    assert decision.text == "Carte •••• •••• •••• 7893, mail ••••••@•••••.•••."


def test_whatever_redaction_leaves_is_checked_again() -> None:
    # The e-mail is masked, but its display name is a listed term: still blocked.
    p = policy("""
        - {id: mail, detector: {pii: email}, action: redact}
        - {id: words, detector: {terms: {extra: [secret-projet]}}, action: block}
        """)
    assert p.decide("Écrivez à projet@banque.fr", PUBLIC).action == "redact"
    decision = p.decide("secret-projet : projet@banque.fr", PUBLIC)
    assert decision.action == "block"


def test_switch_to_dm_sends_the_reply_privately_after_checking_it_for_dm() -> None:
    p = policy("""
        - {id: phone, detector: {pii: phone}, audience: public, action: require_dm, switch_to_dm: true}
        - {id: card, detector: {pii: card}, action: block}
        """)
    decision = p.decide("Rappelez-nous au 06 12 34 56 78", PUBLIC)
    assert (decision.action, decision.switch_to_dm, decision.text) == (
        "require_dm",
        True,
        "Rappelez-nous au 06 12 34 56 78",
    )
    assert p.decide(f"06 12 34 56 78, carte {CARD}", PUBLIC).action == "block"


def test_require_dm_without_switch_holds_the_reply() -> None:
    decision = policy("- {id: phone, detector: {pii: phone}, audience: public, action: require_dm}").decide(
        "au 06 12 34 56 78", PUBLIC
    )
    assert decision.text is None and not decision.switch_to_dm


def test_allow_rules_silence_findings_on_their_words() -> None:
    p = policy("""
        - {id: words, detector: {terms: {}}, action: block}
        - {id: brand, detector: {allow: [Bordel Café]}, action: allow}
        """)
    assert p.decide("Le Bordel Café ouvre à 9 h", PUBLIC).action == "allow"
    assert p.decide("Quel bordel ce café", PUBLIC).action == "block"


def test_term_rules_select_by_language_category_and_severity() -> None:
    p = policy("""
        - {id: en-insults, detector: {terms: {languages: [en], categories: [insult]}}, action: block}
        """)
    assert p.decide("what a bastard", PUBLIC).action == "block"
    assert p.decide("quel bâtard", PUBLIC).action == "allow"  # French
    assert p.decide("oh shit", PUBLIC).action == "allow"  # vulgar, not insult


def test_extra_terms_belong_to_their_rule_only() -> None:
    p = policy("""
        - {id: competitors, detector: {terms: {extra: [Banque Rivale, rivalbank]}}, action: warn}
        """)
    [finding] = p.decide("Chez Banque   Rivale c'est pire", PUBLIC).findings
    assert (finding.rule, finding.category) == ("competitors", "custom")
    assert p.decide("quelle merde", PUBLIC).action == "allow"


def test_custom_pattern_confidence_follows_context_words() -> None:
    p = policy(r"""
        - id: contract
          detector:
            pattern:
              regex: '\bCT-\d{6}\b'
              confidence: 0.4
              context: {words: [contrat, contract], against: [exemple], window: 30}
          action: block
        """)
    assert p.decide("Votre contrat CT-123456 est résilié", PUBLIC).action == "block"
    assert p.decide("CT-123456", PUBLIC).action == "allow"
    assert p.decide("contrat, par exemple CT-123456", PUBLIC).action == "allow"
    [finding] = p.decide("contrat CT-123456", PUBLIC).findings
    assert finding.confidence == pytest.approx(0.7)


def test_audience_limits_where_a_rule_applies() -> None:
    p = policy("- {id: mail, detector: {pii: email}, audience: dm, action: block}")
    assert p.decide("a.b@gmail.com", PUBLIC).action == "allow"
    assert p.decide("a.b@gmail.com", DM).action == "block"


def test_findings_explain_rule_category_span_steps_and_validators(default: Policy) -> None:
    text = f"Votre carte {CARD} et quelle m3rde"
    decision = default.decide(text, PUBLIC)
    card, term = decision.findings
    assert (card.rule, card.category, text[card.start : card.end]) == ("card-number", "card", CARD)
    assert card.validators == {"luhn": True, "issuer:visa": True}
    assert card.detail == "•••• 7893"
    assert (term.category, text[term.start : term.end], term.revealed_by) == ("vulgar", "m3rde", ("leet",))
    assert decision.policy_version == "2026.12-1"
    note = default.explain(decision)
    assert "payment card •••• 7893 (characters 13–31; rule card-number, policy 2026.12-1)" in note
    assert "seen after leet" in note
    assert CARD not in note  # the note never repeats the number


def test_a_decision_is_pure(default: Policy) -> None:
    text = f"Carte {CARD} 🙂"
    assert default.decide(text, PUBLIC) == default.decide(text, PUBLIC)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (
            'version: "1"\nrules:\n  - id: a\n    detector: {pii: card}\n    action: burn\n',
            ":5: rules[0].action",
        ),
        (
            'version: "1"\nrules:\n  - id: a\n    detector: {pii: cardd}\n    action: block\n',
            ":4: rules[0].detector.pii",
        ),
        (
            'version: "1"\nrules:\n  - id: a\n    detector: {pattern: {regex: "(a"}}\n    action: block\n',
            ":4: rules[0].detector.pattern.regex",
        ),
        (
            'version: "1"\nrules:\n  - id: a\n    detector: {pattern: {regex: "(a)\\\\1"}}\n    action: block\n',
            "RE2",
        ),
        (
            'version: "1"\nrules:\n  - {id: a, detector: {pii: card}, action: block}\n  - {id: a, detector: {pii: iban}, action: block}\n',
            "duplicate rule id",
        ),
        ('version: "1"\nrules:\n  - {id: a, detector: {pii: card}, action: allow}\n', "rules[0]"),
        ('version: "1"\nrules: []\n', "rules"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_policy_errors_point_at_line_and_key(document: str, where: str) -> None:
    with pytest.raises(PolicyError) as error:
        Policy.from_text(document, "p.yaml")
    assert where in str(error.value)


def test_shipped_default_policy_loads_and_a_missing_file_is_a_clear_error(
    default: Policy, tmp_path: Path
) -> None:
    assert default.version and len(default.rules) >= 8
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.from_file(tmp_path / "missing.yaml")


def test_the_readme_example_policy_is_valid_and_does_what_it_says() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Writing a rule", 1)[1]
    example = Policy.from_text(section.split("```yaml\n", 1)[1].split("```", 1)[0], "README")
    assert example.decide(f"Carte {CARD}", DM).action == "block"
    assert example.decide("Chez Banque Rivale c'est pire", PUBLIC).action == "warn"
    assert (
        example.decide("Votre contrat CT-123456 est résilié", PUBLIC).text
        == "Votre contrat ••-•••••• est résilié"
    )
    assert example.decide("Livraison à Bitche", PUBLIC).action == "allow"


def default_switching_to_dm() -> Policy:
    """The default policy with phone-public sending a public reply as a DM instead of holding it."""
    text = (POLICY_DIR / "default.yaml").read_text(encoding="utf-8")
    return Policy.from_text(text.replace("switch_to_dm: false", "switch_to_dm: true"), "default, switching")


@pytest.mark.parametrize(
    "text",
    [
        f"Votre carte {CARD} est bloquée",
        "carte 4970-1012-3456-7893, merci",
        "carte 4970\u200b1012 3456 7893",  # an invisible character inside
        "carte 4970\u00a01012\u00a03456\u00a07893",  # no-break spaces, as French typography puts them
        "card 4970\u202f1012\u202f3456\u202f7893",
        "carte 4970 1012\n3456 7893",  # across a line break
        f"Rappelez-nous au 06 12 34 56 78, carte {CARD}",  # a phone moves the reply to DM …
        f"Rappelez-nous au 06 12 34 56 78\nVotre carte : {CARD}",  # … the card still stops it
    ],
)
def test_a_full_card_number_is_never_sent_in_public_in_a_dm_or_moved_to_dm(
    default: Policy, text: str
) -> None:
    for p in (default, default_switching_to_dm()):
        for audience in Audience:
            decision = p.decide(text, audience)
            assert (decision.action, decision.text, decision.switch_to_dm) == ("block", None, False)
            assert "card-number" in {f.rule for f in decision.findings}


def test_a_reply_moved_to_dm_is_decided_again_for_the_dm() -> None:
    p = default_switching_to_dm()
    decision = p.decide("Rappelez-nous au 06 12 34 56 78", PUBLIC)
    assert (decision.action, decision.switch_to_dm) == ("require_dm", True)
    assert decision.text == "Rappelez-nous au 06 12 34 56 78"
    moved = p.decide(f"Rappelez-nous au 06 12 34 56 78, IBAN {IBAN}", PUBLIC)
    assert (moved.action, moved.text) == ("block", None)  # iban-public: never in public, even to move it


def test_a_card_masked_in_dms_is_masked_in_a_reply_moved_to_dm() -> None:
    p = policy("""
        - {id: phone, detector: {pii: phone}, audience: public, action: require_dm, switch_to_dm: true}
        - {id: card-public, detector: {pii: card}, audience: public, action: require_dm, switch_to_dm: true}
        - {id: card-dm, detector: {pii: card}, audience: dm, action: redact}
        """)
    decision = p.decide(f"Rappelez-nous au 06 12 34 56 78, carte {CARD}", PUBLIC)
    assert (decision.action, decision.switch_to_dm) == ("require_dm", True)
    assert decision.text == "Rappelez-nous au 06 12 34 56 78, carte •••• •••• •••• 7893"


def test_a_reply_moved_to_dm_that_would_wait_for_approval_there_is_held() -> None:
    p = policy("""
        - {id: phone, detector: {pii: phone}, audience: public, action: require_dm, switch_to_dm: true}
        - {id: refund, detector: {pattern: {regex: 'rembours\\w*', confidence: 0.9}}, audience: dm, action: hold}
        """)
    decision = p.decide("Rappelez-nous au 06 12 34 56 78 pour le remboursement", PUBLIC)
    assert (decision.action, decision.text, decision.switch_to_dm) == ("require_dm", None, False)
    assert p.decide("Rappelez-nous au 06 12 34 56 78 pour le remboursement", DM).action == "hold"


@pytest.mark.parametrize(
    ("iban", "masked", "detail"),
    [
        (IBAN, "•••• •••• •••• •••• •••• •••0 189", "•••• 0189"),
        ("FR7630006000011234567890189", "•••••••••••••••••••••••0189", "•••• 0189"),
        ("DE89 3704 0044 0532 0130 00", "•••• •••• •••• •••• ••30 00", "•••• 3000"),
        ("MT84 MALT 0110 0001 2345 MTLC AST0 01S", "•••• •••• •••• •••• •••• •••• •••0 01S", "•••• 001S"),
        ("BR97 0036 0305 0000 1000 9795 493P 1", "•••• •••• •••• •••• •••• •••• •93P 1", "•••• 93P1"),
        # Its digits hold a Luhn-valid Mastercard number ("5239 0191 1451 5481"): the IBAN's, not a card.
        ("FR64 5239 0191 1451 5481 9927 296", "•••• •••• •••• •••• •••• •••7 296", "•••• 7296"),
        (
            "FR64\u00a05239\u00a00191\u00a01451\u00a05481\u00a09927\u00a0296",
            "••••\u00a0••••\u00a0••••\u00a0••••\u00a0••••\u00a0•••7\u00a0296",
            "•••• 7296",
        ),
    ],
)
def test_a_full_iban_in_a_dm_keeps_only_its_last_four_characters(
    default: Policy, iban: str, masked: str, detail: str
) -> None:
    decision = default.decide(f"Votre IBAN : {iban}, merci", DM)
    assert decision.action == "redact"
    assert decision.text == f"Votre IBAN : {masked}, merci"
    assert [(f.rule, f.detail) for f in decision.findings] == [("iban-dm", detail)]
    assert default.decide(f"Votre IBAN : {iban}, merci", PUBLIC).action == "block"
