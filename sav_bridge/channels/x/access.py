"""Whether X accepts the gateway's access, one answer for every replica (`store.state`).

When X refuses the brand's credentials for good (a 401 that a token refresh does not cure, any 401 with
OAuth 1.0a, or no usable OAuth 2.0 grant), the X destination is paused: requests are not sent (X is not
hammered with refused calls), jobs wait without using up their attempts (`Paused`), one log line names
the fix and `sav_bridge_x_paused` is 1. Every `PROBE_SECONDS` one request, on one replica, is let through
as a probe: if X accepts it, the pause ends. `sav-bridge x connect` ends it at once.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sav_bridge.errors import Paused
from sav_bridge.http import NotSent
from sav_bridge.metrics import Metrics
from sav_bridge.store import Store

log = logging.getLogger(__name__)

PAUSE_NAME = "x.paused"
PROBE_NAME = "x.paused.probe"
#: How often a paused gateway tries X again by itself.
PROBE_SECONDS = 900.0
#: How soon a waiting job looks again (cheap: one read of `state`).
RECHECK_SECONDS = 60.0

FIX_OAUTH2 = "run `sav-bridge x connect` to authorise the app on the brand account again"
FIX_OAUTH1 = (
    "check x.consumer_key, x.access_token and x.access_token_secret (regenerate the access token and "
    "secret in X's developer portal if the app's access was revoked)"
)


class AccessPaused(NotSent, Paused):
    """X refused the gateway's access, or it is paused: X did nothing with this request (a write's intent
    can be dropped), and the job waits for access to be restored."""


class AccessGate:
    def __init__(self, store: Store, metrics: Metrics, fix: str) -> None:
        self.store = store
        self.metrics = metrics
        self.fix = fix

    async def pause(self) -> dict[str, Any] | None:
        """The pause in force ({"since", "reason"}), or None."""
        value = await self.store.state.get(PAUSE_NAME)
        return value if isinstance(value, dict) else None

    async def admit(self) -> bool:
        """Let a request go to X: False normally, True when it is the probe of a pause; raises
        `AccessPaused` while paused otherwise."""
        pause = await self.pause()
        self.metrics.x_paused.set(1 if pause else 0)
        if pause is None:
            return False
        if await self._take_probe(PROBE_SECONDS):
            return True
        raise self._error(pause)

    async def refused(self, reason: str) -> AccessPaused:
        """Record that X refused access (the caller raises what this returns)."""
        self.metrics.x_auth_failures.inc()
        self.metrics.x_paused.set(1)
        await self._take_probe(0.0)  # the refusal just seen counts as the latest probe
        pause = {"since": self.store.clock(), "reason": reason}
        if await self.store.state.create(PAUSE_NAME, pause):
            log.error(
                "the gateway has no working access to X (%s): replies to X are paused and wait, none is lost; "
                "to restore access, %s",
                reason,
                self.fix,
            )
        return self._error(await self.pause() or pause)

    async def restored(self, how: str) -> None:
        """End the pause (a probe succeeded, or a person connected the account again)."""
        self.metrics.x_paused.set(0)
        if await self.pause() is not None:
            await self.store.state.delete(PAUSE_NAME)
            log.info("X access restored (%s): waiting replies are being posted", how)

    async def _take_probe(self, seconds: float) -> bool:
        # A new holder each time: only the time since the last probe decides, even on this replica.
        return await self.store.state.take_lease(PROBE_NAME, uuid.uuid4().hex, seconds)

    def _error(self, pause: dict[str, Any]) -> AccessPaused:
        detail = f"waiting for X access to be restored ({pause.get('reason')}): {self.fix}"
        return AccessPaused("x", detail, 401, RECHECK_SECONDS, float(pause.get("since") or 0))
