"""The policy in force on this replica: the store's active version, compiled, following activations.

The first replica to start seeds version 1 with the file policy (`policy.path` or the shipped default);
afterwards the store decides, not the file. `refresh()` reads the active version's id (one indexed row)
and compiles the new version when it changed: the runtime repeats it every `CHECK_SECONDS`, so every
replica switches within seconds of an activation, without a restart. Decisions stay synchronous: they
use whichever compiled version is current, and name it (`Policy.version`, "2026.11-1 (v3)").

`on_demand`: a process that decides nothing by itself (`serve`'s HTTP process when the workers run in a
process of their own) compiles the version in force only when something first asks for it (the
console's checks and replays): the compiled policy is ~30 MB of a process. Its version, for `/readyz`
and the metrics, is read from the YAML meanwhile, and a new version is validated before it is followed,
as compiling it would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from sav_bridge.errors import PolicyError
from sav_bridge.model import Audience, Decision
from sav_bridge.policy.document import load_document, parse_document
from sav_bridge.policy.engine import Policy, drop_unused_terms
from sav_bridge.store.policies import ACTIVATED, PolicyVersion, PolicyVersions

log = logging.getLogger(__name__)

#: How often each replica looks for a newly activated version (the issue's promise: within 5 seconds).
CHECK_SECONDS = 2.0


def compile_version(version: PolicyVersion) -> Policy:
    return Policy.from_text(version.yaml, f"policy version {version.id}", label=f"v{version.id}")


@dataclass(frozen=True)
class PolicyFile:
    """A policy file validated as `Policy.from_file` validates it, but not compiled: what seeds the store
    in a process whose policy is compiled on demand."""

    text: str
    source: str

    @classmethod
    def read(cls, path: Path) -> PolicyFile:
        """`PolicyError` naming the line and key of the first problem, as `Policy.from_file`."""
        load_document(path)
        drop_unused_terms()
        return cls(path.read_text(encoding="utf-8"), str(path))


def _version_name(version: PolicyVersion) -> str:
    """What `compile_version(version).version` says, read without compiling (the document is valid)."""
    return f"{yaml.safe_load(version.yaml)['version']} (v{version.id})"


class LivePolicy:
    def __init__(
        self, versions: PolicyVersions, active: PolicyVersion, current: Policy | None = None
    ) -> None:
        """`current`: `active` compiled; None: compiled when first used (on demand)."""
        self._versions = versions
        self._active = active
        self._current = current
        self._on_demand = current is None
        self.version_id = active.id
        self._version = current.version if current is not None else _version_name(active)

    @classmethod
    async def start(
        cls, versions: PolicyVersions, file_policy: Policy | PolicyFile, on_demand: bool = False
    ) -> LivePolicy:
        """The active version, version 1 being `file_policy` when the store has none yet; compiled now,
        or when first used with `on_demand`."""
        if file_policy.text is None:
            raise ValueError("the file policy must come from text (Policy.from_file or from_text)")
        active = await versions.seed(file_policy.text, file_policy.source)
        return cls(versions, active, None if on_demand else compile_version(active))

    @property
    def current(self) -> Policy:
        """The version in force, compiled (on demand: here, on the caller's thread; see `ready`)."""
        if self._current is None:
            self._current = compile_version(self._active)
        return self._current

    async def ready(self) -> Policy:
        """`current`, compiled on a thread when it is not yet: a policy takes a second or two to compile,
        which the webhooks sharing this event loop must not wait for."""
        if self._current is None:
            active = self._active
            compiled = await asyncio.to_thread(compile_version, active)
            if self._current is None and self._active is active:
                self._current = compiled
        return self.current

    @property
    def version(self) -> str:
        return self._version

    @property
    def source(self) -> str:
        return f"policy version {self.version_id}" if self._current is None else self._current.source

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
            compiled = None if self._on_demand else compile_version(version)
            if compiled is None:
                parse_document(version.yaml, f"policy version {version.id}")
                drop_unused_terms()
        except PolicyError as exc:  # validated when written: only a hand-edited row gets here
            log.error(
                "policy version %s cannot be compiled, keeping version %s: %s",
                active_id,
                self.version_id,
                exc,
            )
            return False
        self._active, self._current, self.version_id = version, compiled, version.id
        self._version = compiled.version if compiled is not None else _version_name(version)
        log.warning("posting policy switched to version %s (%s)", version.id, self._version)
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
