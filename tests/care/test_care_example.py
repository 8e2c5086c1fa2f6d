"""The example care configuration shipped in deploy/ loads as it is, and turns every habit on."""

from __future__ import annotations

from pathlib import Path

import pytest

from sav_bridge.care.settings import CareSettings
from sav_bridge.config import load_settings
from tests.harness import gateway_env

EXAMPLE = Path(__file__).parents[2] / "deploy" / "care.example.yaml"


def test_the_shipped_example_turns_every_habit_on(tmp_path: Path) -> None:
    settings = load_settings(EXAMPLE, gateway_env(f"sqlite:///{tmp_path / 'db'}"))
    care = CareSettings.from_raw(settings.care_raw)
    assert care is not None
    assert care.ack.enabled and care.ack.via == "dm"
    assert not care.hours.always_open and care.history and care.personal.enabled
    routed = care.routing.route("Ma carte est bloquée depuis hier", "fr", "mention", "1")
    assert routed.update.group == "cards" and routed.update.priority == "high"
    assert care.first_response_minutes == 60


def test_without_a_care_section_care_is_off(tmp_path: Path) -> None:
    settings = load_settings(None, gateway_env(f"sqlite:///{tmp_path / 'db'}"))
    assert CareSettings.from_raw(settings.care_raw) is None


def test_a_care_section_the_schema_cannot_judge_is_refused_at_start_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sav_bridge.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(
        "care:\n  hours: {timezone: Mars/Olympus, weekly: {mon: ['09:00-18:00']}}\n", encoding="utf-8"
    )
    for key, value in gateway_env(f"sqlite:///{tmp_path / 'db'}").items():
        monkeypatch.setenv(key, value)
    assert main(["--config", str(config), "check"]) == 2
    assert "care.hours.timezone: is not a known IANA time zone" in capsys.readouterr().err
