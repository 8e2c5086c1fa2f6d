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
    assert main(["policy", "validate", str(POLICY_DIR / "default.yaml"), str(bad)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{POLICY_DIR / 'default.yaml'}: valid, version 2026.12-1, 10 rules")
    assert out[1] == f"{bad}:4: rules[0].detector.pii: must be one of card, iban, nir, email, phone"
    assert out[2] == "checked 2 files: 1 valid, 1 invalid (1 error)"


def test_check_prints_the_decision_with_highlighted_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", f"Votre carte {CARD}, quelle m3rde"]) == 4
    out = capsys.readouterr().out
    assert "decision: BLOCK, would not be posted" in out
    assert f"Votre carte ⟦{CARD}⟧, quelle ⟦m3rde⟧" in out
    assert "rule card-number" in out and "seen after leet" in out


def test_check_shows_the_redacted_text_and_respects_the_audience(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", "Écrivez à claire@gmail.com"]) == 3
    assert "would post: Écrivez à ••••••@•••••.•••" in capsys.readouterr().out
    assert main(["policy", "check", "--audience", "dm", "Écrivez à claire@gmail.com"]) == 0
    assert "decision: ALLOW, would be posted as written" in capsys.readouterr().out


def test_check_with_another_policy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    strict = tmp_path / "strict.yaml"
    strict.write_text('version: "s-1"\nrules:\n  - {id: mail, detector: {pii: email}, action: block}\n')
    assert main(["policy", "check", "--policy", str(strict), "--audience", "dm", "a@b.fr"]) == 4
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
    assert main(["policy", "check", "--audience", "dm", "a@b.fr"]) == 4
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
    assert main(["policy", "check", "--jsonl"]) == 4
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
    assert main(["policy", "check", "--jsonl", "--audience", "dm"]) == 2
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0]["action"] == "allow"
    assert [o["error"].split(":")[0] for o in out[1:]] == ["line 2", "line 3", "line 4"]


def test_check_without_text_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check"]) == 2
    assert "needs a text" in capsys.readouterr().err


TRIAL_POLICY = """\
version: "t-1"
rules:
  - {id: card, detector: {pii: card}, action: block}
  - {id: phone, detector: {pii: phone}, audience: public, action: require_dm}
  - {id: iban, detector: {pii: iban}, audience: public, action: require_dm, switch_to_dm: true}
  - {id: mail, detector: {pii: email}, action: redact}
  - {id: rival, detector: {terms: {extra: [rivalbank]}}, action: warn}
"""
IBAN = "FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def trial(tmp_path: Path) -> Path:
    path = tmp_path / "trial.yaml"
    path.write_text(TRIAL_POLICY, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "audience", "status", "says"),
    [
        ("Merci, c'est réglé !", "public", 0, ["decision: ALLOW, would be posted as written"]),
        (
            "Chez rivalbank c'est pire",
            "public",
            0,
            ["decision: WARN, would be posted as written, with a warning"],
        ),
        ("Appelez le 06 12 34 56 78", "dm", 0, ["would be posted as written"]),
        (
            "Écrivez à claire@gmail.com",
            "public",
            3,
            [
                "decision: REDACT, would be posted with these parts masked: «claire@gmail.com»",
                "would post: Écrivez à ••••••@•••••.•••",
            ],
        ),
        (
            f"Votre IBAN {IBAN}",
            "public",
            3,
            ["decision: REQUIRE_DM, would be sent as a DM instead", f"would send as a DM: Votre IBAN {IBAN}"],
        ),
        (
            f"IBAN {IBAN}, ou écrivez à claire@gmail.com",
            "public",
            3,
            ["would be sent as a DM instead, with these parts masked: «claire@gmail.com»"],
        ),
        (
            "Appelez le 06 12 34 56 78",
            "public",
            4,
            ["decision: REQUIRE_DM, would not be posted: allowed only as a DM"],
        ),
        (f"Votre carte {CARD}", "dm", 4, ["decision: BLOCK, would not be posted"]),
    ],
)
def test_a_trial_check_says_what_would_happen_and_its_exit_status_gates_a_script(
    trial: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    audience: str,
    status: int,
    says: list[str],
) -> None:
    assert main(["policy", "check", "--policy", str(trial), "--audience", audience, text]) == status
    out = capsys.readouterr().out
    assert f"policy t-1 ({trial}), audience {audience}: a trial, nothing is posted" in out
    for line in says:
        assert line in out, out
    assert "was posted" not in out and "was sent" not in out  # the ticket note's words, for a reply sent


def test_check_with_an_invalid_policy_names_its_first_error_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "1"\nrules:\n  - {id: a, detector: {pii: cardd}, action: block}\n  - {id: B}\n')
    assert main(["policy", "check", "--policy", str(bad), "hello"]) == 2
    assert capsys.readouterr().err == (
        f"sav-bridge: {bad}:3: rules[0].detector.pii: must be one of card, iban, nir, email, phone"
        f" (and 2 more: sav-bridge policy validate {bad})\n"
    )


def run_jsonl(
    monkeypatch: pytest.MonkeyPatch, trial: Path, lines: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, object]]]:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
    status = main(["policy", "check", "--policy", str(trial), "--jsonl"])
    return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_jsonl_echoes_the_id_of_each_line_whatever_its_json_type(
    monkeypatch: pytest.MonkeyPatch, trial: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids: list[object] = ["t-1", 42, 4.5, True, None]
    lines = [json.dumps({"id": i, "text": "Merci"}) for i in ids] + ['{"text": "Chez rivalbank"}']
    status, out = run_jsonl(monkeypatch, trial, lines, capsys)
    assert status == 0  # allowed, or posted with a warning: as written
    assert [o.get("id", "absent") for o in out] == [*ids, "absent"]
    assert list(out[0]) == ["id", "action", "text", "findings"]


def test_jsonl_error_lines_keep_the_id_and_an_id_must_be_a_scalar(
    monkeypatch: pytest.MonkeyPatch, trial: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ['{"id": "t-1", "text": 3}', '{"id": {"n": 1}, "text": "Merci"}', '{"id": "t-3", "text": "ok"}']
    status, out = run_jsonl(monkeypatch, trial, lines, capsys)
    assert status == 2
    assert out[0] == {"id": "t-1", "error": 'line 1: expected an object with a string "text"'}
    assert out[1] == {"error": 'line 2: "id" must be a string, a number, true, false or null'}
    assert out[2]["id"] == "t-3" and out[2]["action"] == "allow"


@pytest.mark.parametrize(
    ("texts", "status"),
    [
        (["Merci", "Écrivez à claire@gmail.com"], 3),
        ([f"IBAN {IBAN}", "Merci"], 3),
        (["Écrivez à claire@gmail.com", "Appelez le 06 12 34 56 78", "Merci"], 4),
        ([f"Carte {CARD}", "Merci"], 4),
    ],
)
def test_jsonl_exit_status_is_that_of_the_worst_decision(
    monkeypatch: pytest.MonkeyPatch,
    trial: Path,
    capsys: pytest.CaptureFixture[str],
    texts: list[str],
    status: int,
) -> None:
    lines = [json.dumps({"id": n, "text": t}) for n, t in enumerate(texts)]
    assert run_jsonl(monkeypatch, trial, lines, capsys)[0] == status
