"""Posting policy: what an agent's reply may say in public and in a DM, decided before anything is posted.

`normalize` folds disguises, `pii` and `terms` find things, `document` validates policy files, and
`engine.Policy.decide` applies the rules and explains the outcome.
"""

from __future__ import annotations

from sav_bridge.policy.engine import Policy, load_policy, redact

__all__ = ["Policy", "load_policy", "redact"]
