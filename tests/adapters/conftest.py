"""Each plugin's tests are collected only when its plugin is installed: a plugin folder removed from
adapters/ (and so not installed by make) takes its tests with it and leaves the others green. The line at
the top of every run names the plugins tested (`tests/conftest.py`)."""

from __future__ import annotations

from sav_bridge.helpdesks import available

#: Test modules of each plugin, by entry-point name.
PLUGIN_TESTS = {name: f"test_{name}*.py" for name in ("zendesk", "freshdesk", "salesforce")}

collect_ignore_glob = [pattern for name, pattern in PLUGIN_TESTS.items() if name not in available()]
