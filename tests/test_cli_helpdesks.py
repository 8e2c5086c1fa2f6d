"""`sav-bridge helpdesks`: the installed plugins with their distributions' versions, and the one selected."""

from __future__ import annotations

import io
from importlib import metadata

import pytest

from sav_bridge.cli import list_helpdesks, main
from sav_bridge.helpdesks import available
from tests.harness import gateway_env


def test_lists_each_plugin_with_its_version_and_the_configured_one() -> None:
    out = io.StringIO()
    assert list_helpdesks(None, gateway_env("sqlite:///unused.db", SAV_BRIDGE_HELPDESK="zendesk"), out) == 0
    version = metadata.version("sav-bridge-zendesk")
    lines = out.getvalue().splitlines()
    assert f"zendesk\tsav-bridge-zendesk {version}" in lines
    assert lines[-1] == "selected by the configuration: zendesk"
    assert len(lines) == len(available()) + 1


def test_a_configuration_that_cannot_be_read_still_lists_the_plugins() -> None:
    out = io.StringIO()
    assert list_helpdesks(None, {"SAV_BRIDGE_HELPDESK": "nope"}, out) == 0
    lines = out.getvalue().splitlines()
    installed = sorted(available())
    assert [line.split("\t")[0] for line in lines[: len(installed)]] == installed
    assert f"zendesk\tsav-bridge-zendesk {metadata.version('sav-bridge-zendesk')}" in lines
    refusal = f"unknown helpdesk 'nope'; installed: {', '.join(installed)}"
    assert lines[-1] == f"selected by the configuration: none ({refusal})"


def test_the_command_is_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["helpdesks"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("selected by the configuration: ")
