"""The core names no helpdesk vendor: each plugin brings its names, tags and markers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sav_bridge
from sav_bridge.helpdesks import available, dm_marker, load_helpdesk

CORE = Path(sav_bridge.__file__).parent


def core_modules_naming(word: str) -> list[str]:
    return sorted(
        str(p.relative_to(CORE)) for p in CORE.rglob("*.py") if word in p.read_text(encoding="utf-8").lower()
    )


def test_reply_by_dm_is_a_marker_each_plugin_names() -> None:
    assert core_modules_naming("sav_dm") == []
    neutral = "the helpdesk's reply-by-DM marker"
    assert dm_marker(object()) == neutral  # type: ignore[arg-type]
    markers = {name: dm_marker(load_helpdesk(name)) for name in available()}  # type: ignore[arg-type]
    assert markers and neutral not in markers.values(), markers


def test_no_core_module_names_a_helpdesk_vendor() -> None:
    assert [m for word in ("zendesk", "freshdesk", "salesforce") for m in core_modules_naming(word)] == []


def without_plugins(tmp_path: Path) -> dict[str, str]:
    """An environment where only the core and its libraries are importable: no plugin is installed."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    shadow = tmp_path / "site-packages"
    shadow.mkdir()
    for entry in site.iterdir():
        if not entry.name.startswith(("sav_bridge_", "__editable__")) and entry.suffix != ".pth":
            (shadow / entry.name).symlink_to(entry)
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{CORE.parent}{os.pathsep}{shadow}"}


def test_the_core_runs_without_any_helpdesk_plugin(tmp_path: Path) -> None:
    env = without_plugins(tmp_path) | {
        "SAV_BRIDGE_X__CONSUMER_SECRET": "s",
        "SAV_BRIDGE_X__ACCOUNT_ID": "1",
        "SAV_BRIDGE_X__CONSUMER_KEY": "k",
        "SAV_BRIDGE_X__ACCESS_TOKEN": "t",
        "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET": "ts",
    }
    code = "import sys, sav_bridge.app, sav_bridge.sandbox; from sav_bridge.cli import main; sys.exit(main(['check']))"
    for helpdesk, line in [
        ("zendesk", "sav-bridge: unknown helpdesk 'zendesk'; installed: none"),
        ("", "sav-bridge: config: helpdesk: is required (installed: none)"),
    ]:
        run = subprocess.run(
            [sys.executable, "-S", "-c", code],
            env=env | ({"SAV_BRIDGE_HELPDESK": helpdesk} if helpdesk else {}),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert (run.returncode, run.stderr.strip(), run.stdout) == (2, line, "")


PLUGIN_FOLDERS = sorted(p.parent for p in (CORE.parent / "adapters").glob("*/pyproject.toml"))


@pytest.mark.parametrize("folder", PLUGIN_FOLDERS, ids=[p.name for p in PLUGIN_FOLDERS])
def test_each_plugin_installs_alone_and_is_found_through_its_entry_points(
    folder: Path, tmp_path: Path
) -> None:
    """`pip install ./adapters/<name>` beside the core alone: the gateway, its sandbox and its demo find it."""
    alone = tmp_path / "plugin"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--target", str(alone), str(folder)]  # fmt: skip
    built = subprocess.run(install, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    env = without_plugins(tmp_path)
    env["PYTHONPATH"] += f"{os.pathsep}{alone}"
    code = (
        "from importlib.metadata import entry_points as e, version\n"
        "from sav_bridge.helpdesks import available, load_helpdesk\n"
        "names = sorted(available())\n"
        "groups = [sorted(p.name for p in e(group=g)) for g in ('sav_bridge.sandboxes', 'sav_bridge.demos')]\n"
        "[p.load() for g in ('sav_bridge.sandboxes', 'sav_bridge.demos') for p in e(group=g)]\n"
        "print(names, groups, load_helpdesk(names[0]).name, version('sav-bridge-' + names[0]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    name = folder.name
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout.strip() == f"['{name}'] [['{name}'], ['{name}']] {name} 0.1.0"
