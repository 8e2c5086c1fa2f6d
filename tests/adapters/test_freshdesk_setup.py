"""Freshdesk's set-up from the command line: the demo played on it, and the steps `provision --print` gives."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from sav_bridge.cli import main
from sav_bridge.demo import run_demo

SECRET = "freshdesk-webhook-secret-never-printed"


async def test_demo_plays_the_whole_story_on_freshdesk(
    vendor_dir: Path | None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_demo(vendor_dir, "freshdesk") == 0
    out = capsys.readouterr().out
    assert "Freshdesk ticket #" in out and "tags sav_bridge, x_dm" in out and "Zendesk" not in out
    assert "Freshdesk rings POST /webhooks/freshdesk  ← 200" in out
    assert "^AJ»" in out and "^JPM»" in out and " 1/2 ^AJ»" in out and " 2/2 ^AJ»" in out
    assert "dropped: {'echo': 1}" in out and "0 violation(s)" in out
    assert "posts on X since: 0" in out and "⛔ Not posted on X." in out and "payment card •••• 7893" in out
    assert "01 23 45 67 89. ^JPM»" in out and "vulgar term «m•••e»" in out


def test_demo_without_a_helpdesk_asks_for_one_when_several_have_a_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 2
    err = capsys.readouterr().err.strip()
    demos = sorted(point.name for point in entry_points(group="sav_bridge.demos"))
    assert len(demos) > 1 and f"({', '.join(demos)})" in err and "--helpdesk" in err and "\n" not in err


@pytest.mark.parametrize("flag", ["--print", "--dry-run"])
def test_provision_prints_the_field_and_the_rule_with_the_token_as_a_placeholder(
    flag: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for key, value in {
        "SAV_BRIDGE_HELPDESK": "freshdesk",
        "SAV_BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SAV_BRIDGE_FRESHDESK__URL": "https://mabanque.freshdesk.com",
        "SAV_BRIDGE_FRESHDESK__API_KEY": "freshdesk-api-key-never-printed",
        "SAV_BRIDGE_FRESHDESK__WEBHOOK_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["freshdesk", "provision", "--public-url", "https://sav.example.com/", flag]) == 0
    out = capsys.readouterr().out
    steps = [line.strip() for line in out.splitlines()]
    assert "label sav_bridge_key (API name cf_sav_bridge_key), for agents only, not required." in steps
    assert "sav-bridge: send agent replies to X" in steps
    assert "- When an action performed by: Agent; involves any of these events: Reply is sent" in steps
    assert "- On tickets with these properties: Tags contains any of: sav_bridge" in steps
    assert "- Perform these actions: Trigger webhook" in steps
    assert "Request type:            POST" in steps
    assert "URL:                     https://sav.example.com/webhooks/freshdesk" in steps
    assert (
        "X-Sav-Bridge-Token: <the value of freshdesk.webhook_secret (SAV_BRIDGE_FRESHDESK__WEBHOOK_SECRET)>"
        in steps
    )
    assert '{"ticket_id": {{ticket.id}}}' in steps
    assert out.index("cf_sav_bridge_key") < out.index("Trigger webhook") < out.index("X-Sav-Bridge-Token")
    assert SECRET not in out and "never-printed" not in out and "nothing was changed" in out
