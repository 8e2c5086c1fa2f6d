"""`sav-bridge policy …`: what compliance staff type, and what they read back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sav_bridge import POLICY_DIR
from sav_bridge.cli import main

CARD = "4970 1012 3456 7893"


def test_validate_reports_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "1"\nrules:\n  - id: a\n    detector: {pii: cardd}\n    action: block\n')
    assert main(["policy", "validate", str(POLICY_DIR / "default.yaml"), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{POLICY_DIR / 'default.yaml'}: valid, version 2026.11-1, 10 rules")
    assert out[1] == f"{bad}:4: rules[0].detector.pii: must be one of card, iban, nir, email, phone"


def test_check_prints_the_decision_with_highlighted_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", f"Votre carte {CARD}, quelle m3rde"]) == 0
    out = capsys.readouterr().out
    assert "decision: BLOCK" in out
    assert f"Votre carte ⟦{CARD}⟧, quelle ⟦m3rde⟧" in out
    assert "rule card-number" in out and "seen after leet" in out
    assert "to post: nothing" in out


def test_check_shows_the_redacted_text_and_respects_the_audience(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", "Écrivez à claire@gmail.com"]) == 0
    assert "to post: Écrivez à ••••••@•••••.•••" in capsys.readouterr().out
    assert main(["policy", "check", "--audience", "dm", "Écrivez à claire@gmail.com"]) == 0
    assert "decision: ALLOW" in capsys.readouterr().out


def test_check_with_another_policy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text('version: "s-1"\nrules:\n  - {id: mail, detector: {pii: email}, action: block}\n')
    assert main(["policy", "check", "--policy", str(strict), "--audience", "dm", "a@b.fr"]) == 0
    out = capsys.readouterr().out
    assert "policy s-1" in out and "decision: BLOCK" in out


def test_check_uses_the_gateways_configured_policy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configured = tmp_path / "configured.yaml"
    configured.write_text(
        'version: "conf-1"\nrules:\n  - {id: mail, detector: {pii: email}, action: block}\n'
    )
    monkeypatch.setenv("SAV_BRIDGE_POLICY__PATH", str(configured))  # no X or helpdesk secrets needed
    assert main(["policy", "check", "--audience", "dm", "a@b.fr"]) == 0
    assert "policy conf-1" in capsys.readouterr().out


def test_jsonl_batch_replays_past_replies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {"text": "Bonjour, c'est réglé !"},
        {"text": f"Carte {CARD}", "audience": "dm"},
        {"text": "Appelez le 06 12 34 56 78"},
        {"text": "Appelez le 06 12 34 56 78", "audience": "dm"},
        {"text": "Écrivez à claire@gmail.com"},
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(json.dumps(x) + "\n" for x in lines)))
    assert main(["policy", "check", "--jsonl"]) == 0
    captured = capsys.readouterr()
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert [o["action"] for o in out] == ["allow", "block", "require_dm", "allow", "redact"]
    assert out[0] == {"action": "allow", "text": "Bonjour, c'est réglé !", "findings": []}
    assert out[1]["text"] is None
    assert out[1]["findings"] == [
        {"rule": "card-number", "category": "card", "start": 6, "end": 25, "action": "block"}
    ]
    assert out[4]["text"] == "Écrivez à ••••••@•••••.•••"
    assert "checked 5 lines" in captured.err


def test_jsonl_bad_lines_are_reported_and_fail_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        "sys.stdin", io.StringIO('{"text": "ok"}\nnope\n{"text": 3}\n{"text": "x", "audience": "all"}\n')
    )
    assert main(["policy", "check", "--jsonl", "--audience", "dm"]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0]["action"] == "allow"
    assert [o["error"].split(":")[0] for o in out[1:]] == ["line 2", "line 3", "line 4"]


def test_check_without_text_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check"]) == 2
    assert "needs a text" in capsys.readouterr().err
