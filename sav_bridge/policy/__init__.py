"""Posting policy: what an agent's reply may say in public and in a DM, decided before anything is posted.

`document` validates policy files and `rules` compiles them; `normalize` folds disguises, `screen`
says in one RE2 pass which detectors are worth running, `pii` and `terms` find things, `masking`
hides what they found, and `engine.Policy.decide` applies the rules and explains the outcome.
`console` is what compliance staff run.
"""

from __future__ import annotations

from sav_bridge.policy.engine import Policy

__all__ = ["Policy"]
