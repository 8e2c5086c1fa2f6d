"""Posting policy (issue 3 builds the engine; until then every reply is allowed as written)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sav_bridge.model import Audience, Decision


@dataclass(frozen=True)
class AllowAll:
    version: str = "none"

    def decide(self, text: str, audience: Audience) -> Decision:
        return Decision(action="allow", text=text, policy_version=self.version)

    def explain(self, decision: Decision) -> str:
        return ""


def load_policy(path: Path) -> AllowAll:
    return AllowAll()
