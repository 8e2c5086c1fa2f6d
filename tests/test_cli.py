"""The command line: start-up errors in one line, the demo, provisioning on the sandbox, log redaction."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from sav_bridge import logs
from sav_bridge.cli import main
from sav_bridge.demo import run_demo


def test_missing_key_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("SAV_BRIDGE_") and name != "SAV_BRIDGE_VENDOR_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAV_BRIDGE_X__ACCOUNT_ID", "1")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "sav-bridge: config: x.consumer_secret: is required"


async def test_invalid_policy_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.harness import gateway_env

    policy = tmp_path / "policy.yaml"
    policy.write_text('version: "1"\nrules:\n  - id: a\n    detector: {pii: cardd}\n    action: block\n')
    for key, value in gateway_env(
        f"sqlite:///{tmp_path / 'db.sqlite'}", SAV_BRIDGE_POLICY__PATH=str(policy)
    ).items():
        monkeypatch.setenv(key, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"sav-bridge: {policy}:4: rules[0].detector.pii: must be one of card, iban, nir, email, phone"
    )


async def test_demo_plays_the_whole_story(
    vendor_dir: Path | None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_demo(vendor_dir) == 0
    out = capsys.readouterr().out
    assert "Zendesk ticket #" in out and "x_dm" in out
    assert "^AJ»" in out and "^JPM»" in out and " 1/2 ^AJ»" in out and " 2/2 ^AJ»" in out
    assert "dropped: {'echo': 1}" in out and "0 violation(s)" in out
    assert "posts on X since: 0" in out and "⛔ Not posted on X." in out and "payment card •••• 7893" in out
    assert "01 23 45 67 89. ^JPM»" in out and "vulgar term «m•••e»" in out


def test_provision_dry_run_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.harness import gateway_env

    for key, value in gateway_env(f"sqlite:///{tmp_path / 'db.sqlite'}", SAV_BRIDGE_SANDBOX="true").items():
        monkeypatch.setenv(key, value)
    assert main(["zendesk", "provision", "--public-url", "https://sav.example.com", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"endpoint": "https://sav.example.com/webhooks/zendesk"' in out and "nothing was changed" in out


def test_json_logs_mask_secrets() -> None:
    stream = io.StringIO()
    logs.configure("INFO", ["super-secret-token"], stream)
    try:
        logging.getLogger("sav_bridge.test").warning("calling with token %s", "super-secret-token")
        try:
            raise RuntimeError("boom super-secret-token")
        except RuntimeError:
            logging.getLogger("sav_bridge.test").exception("failed")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "calling with token ***" and lines[0]["level"] == "WARNING"
    assert "super-secret-token" not in stream.getvalue()
