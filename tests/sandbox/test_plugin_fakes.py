"""Each helpdesk's fake ships with its plugin and is found through the `sav_bridge.sandboxes` entry points."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import sav_bridge.sandbox
from sav_bridge.config import load_helpdesk_settings
from sav_bridge.helpdesks import available
from sav_bridge.sandbox import helpdesk_fake
from tests.test_config import MINIMAL


def test_the_helpdesk_fake_comes_from_the_plugin_the_settings_name() -> None:
    settings = load_helpdesk_settings(None, MINIMAL)
    fake = helpdesk_fake(settings, None)
    assert type(fake).__module__ == "sav_bridge_zendesk.sandbox"
    assert fake.hosts == ("acme.zendesk.com",)
    installed = ", ".join(sorted(available()))
    with pytest.raises(ValueError, match=f"no sandbox for helpdesk 'kayako'; installed: {installed}$"):
        helpdesk_fake(replace(settings, helpdesk="kayako"), None)


def test_the_core_sandbox_names_no_helpdesk_vendor() -> None:
    core = Path(sav_bridge.sandbox.__file__).parent
    named = [p.name for p in core.rglob("*.py") if "zendesk" in p.read_text(encoding="utf-8").lower()]
    assert named == []
