"""The `salesforce` section with its defaults filled in, the defaults read from `config.schema.json`
(the one place they are written), for the plugin, its provisioning steps and its fake alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sav_bridge.helpdesks import packaged_schema

_PROPERTIES: dict[str, dict[str, Any]] = packaged_schema(__package__ or "sav_bridge_salesforce")["properties"]
DEFAULTS: dict[str, Any] = {key: spec["default"] for key, spec in _PROPERTIES.items() if "default" in spec}


def with_defaults(section: Mapping[str, Any]) -> dict[str, Any]:
    """`section` as configured, each absent key at its schema default."""
    return {**DEFAULTS, **section}
