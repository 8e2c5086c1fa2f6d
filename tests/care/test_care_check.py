"""`sav-bridge care check "text"`: what a care-team lead types to try the rules, and what they read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sav_bridge.cli import main

CONFIG = """\
care:
  default_language: fr
  mood:
    thresholds: {high: 3, urgent: 6}
  routing:
    - name: cartes
      when: {language: fr, words: ["carte bloquée"], channel: [mention, reply, dm]}
      then: {group: cards, tags: [cartes], priority: normal, fields: {product: cards}}
    - name: le reste
      when: {}
      then: {group: general}
"""
ANGRY = "C'est INADMISSIBLE, ma carte bloquée depuis 3 jours !!! Je vais porter plainte"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sav-bridge.yaml"
    path.write_text(CONFIG, encoding="utf-8")  # no x or helpdesk section: no secret is needed to try rules
    return path


def test_the_angry_repeat_complainer_is_routed_to_cards_and_raised_with_reasons(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["care", "check", ANGRY, "--recent", "4", "--followers", "48200", "--config", str(config)]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        "language: fr (guessed from the words; --language to set it)",
        "mood: score 7.5, priority urgent (high from 3, urgent from 6)",
        "  +2.5  4 messages in 10 minutes",
        "  +1.5  'inadmissible'",
        "  +1.5  'porter plainte'",
        "  +0.5  '!!!'",
        "  +1.5  48k followers",
        "routing:",
        "  match  cartes: language fr; words: 'carte bloquée'; channel mention",
        "  -      le reste: not tried (an earlier rule matched and does not continue)",
        "ticket update: priority urgent; group cards; tags cartes, sav_unhappy, sav_influencer; "
        "field product = cards",
    ]


def test_json_for_scripts_and_the_global_config_option(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["--config", str(config), "care", "check", "Where is my card?", "--json", "--channel", "dm"])
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert (document["language"], document["language_guessed"]) == ("en", True)
    assert document["mood"] == {"score": 0, "level": None, "tags": [], "signals": [], "note": "mood score 0"}
    assert document["routing"] == [
        {"rule": "cartes", "tried": True, "matched": False, "why": None},
        {"rule": "le reste", "tried": True, "matched": True, "why": "always (when: {})"},
    ]
    assert document["update"]["group"] == "general"


def test_a_dm_from_an_influencer_is_not_a_public_post(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "care",
        "check",
        "ma carte bloquée",
        "--channel",
        "dm",
        "--followers",
        "90000",
        "--config",
        str(config),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "followers" not in out and "sav_influencer" not in out
    assert "ticket update: priority normal; group cards; tags cartes; field product = cards" in out


def test_without_configuration_the_built_in_mood_and_no_routing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SAV_BRIDGE_CONFIG", raising=False)
    assert main(["care", "check", "I want a refund, this is unacceptable", "--language", "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("language: en\n")
    assert "routing: no rules (care.routing)" in out
    assert "ticket update: priority high; tags sav_unhappy" in out


def test_a_bad_rule_is_named_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "care:\n  routing:\n    - {when: {}, then: {}}\n    - {when: {patterns: ['(a']}, then: {}}\n"
    )
    assert main(["care", "check", "hello", "--config", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("sav-bridge: config: care.routing[1].when.patterns[0]: ")
