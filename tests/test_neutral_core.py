"""The core names no helpdesk vendor: each plugin brings its names, tags and markers."""

from __future__ import annotations

from pathlib import Path

from sav_bridge_zendesk import ZendeskHelpdesk

import sav_bridge
from sav_bridge.helpdesks import dm_marker

CORE = Path(sav_bridge.__file__).parent


def core_modules_naming(word: str) -> list[str]:
    return sorted(
        str(p.relative_to(CORE)) for p in CORE.rglob("*.py") if word in p.read_text(encoding="utf-8").lower()
    )


def test_reply_by_dm_is_a_marker_each_plugin_names() -> None:
    assert core_modules_naming("sav_dm") == []
    assert dm_marker(ZendeskHelpdesk) == "the tag sav_dm"  # type: ignore[arg-type]
    assert dm_marker(object()) == "the helpdesk's reply-by-DM marker"  # type: ignore[arg-type]
