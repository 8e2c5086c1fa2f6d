"""The example care configuration shipped in deploy/ loads as it is, and turns every habit on."""

from __future__ import annotations

from pathlib import Path

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
