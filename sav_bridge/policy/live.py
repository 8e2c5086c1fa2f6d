"""The policy in force on this replica: the store's active version, compiled, following activations.

The first replica to start seeds version 1 with the file policy (`policy.path` or the shipped default);
afterwards the store decides, not the file. `refresh()` reads the active version's id (one indexed row)
and compiles the new version when it changed: the runtime repeats it every `CHECK_SECONDS`, so every
replica switches within seconds of an activation, without a restart. Decisions stay synchronous: they
use whichever compiled version is current, and name it (`Policy.version`, "2026.11-1 (v3)").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sav_bridge.errors import PolicyError
from sav_bridge.model import Audience, Decision
from sav_bridge.policy.engine import Policy
from sav_bridge.store.policies import ACTIVATED, PolicyVersion, PolicyVersions

log = logging.getLogger(__name__)

#: How often each replica looks for a newly activated version (the issue's promise: within 5 seconds).
CHECK_SECONDS = 2.0


def compile_version(version: PolicyVersion) -> Policy:
    return Policy.from_text(version.yaml, f"policy version {version.id}", label=f"v{version.id}")


class LivePolicy:
    def __init__(self, versions: PolicyVersions, current: Policy, version_id: int) -> None:
        self._versions = versions
        self.current = current
        self.version_id = version_id

    @classmethod
    async def start(cls, versions: PolicyVersions, file_policy: Policy) -> LivePolicy:
        """The active version, version 1 being `file_policy` when the store has none yet."""
        if file_policy.text is None:
            raise ValueError("the file policy must come from text (Policy.from_file or from_text)")
        active = await versions.seed(file_policy.text, file_policy.source)
        return cls(versions, compile_version(active), active.id)

    @property
    def version(self) -> str:
        return self.current.version

    @property
    def source(self) -> str:
        return self.current.source

    def decide(self, text: str, audience: Audience) -> Decision:
        return self.current.decide(text, audience)

    def explain(self, decision: Decision) -> str:
        return self.current.explain(decision)

    async def refresh(self) -> bool:
        """Follow an activation made anywhere; True when this replica switched version."""
        active_id = await self._versions.active_id()
        if active_id is None or active_id == self.version_id:
            return False
        version = await self._versions.get(active_id)
        try:
            compiled = compile_version(version)
        except PolicyError as exc:  # validated when written: only a hand-edited row gets here
            log.error(
                "policy version %s cannot be compiled, keeping version %s: %s",
                active_id,
                self.version_id,
                exc,
            )
            return False
        self.current, self.version_id = compiled, version.id
        log.warning("posting policy switched to version %s (%s)", version.id, compiled.version)
        return True

    async def follow(self, stop: asyncio.Event) -> None:
        """Refresh every `CHECK_SECONDS`, and at once when PostgreSQL says a version was activated, until
        `stop` is set (a store hiccup is retried next time)."""
        woken = asyncio.Event()
        listening = asyncio.create_task(self._versions.db.listen(ACTIVATED, woken.set, stop))
        try:
            while not stop.is_set():
                woken.clear()
                try:
                    await self.refresh()
                except Exception as exc:
                    log.warning("could not read the active policy version: %s", type(exc).__name__)
                waits = [asyncio.create_task(stop.wait()), asyncio.create_task(woken.wait())]
                _, pending = await asyncio.wait(
                    waits, timeout=CHECK_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
        finally:
            if not stop.is_set():
                listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
