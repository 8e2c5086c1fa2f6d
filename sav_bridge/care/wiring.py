"""Care's parts for a runtime: the pipeline the inbound flow calls, its job handlers, the watch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sav_bridge.care.jobs import CareJobs
from sav_bridge.care.pipeline import JOB_CARE_ACK, JOB_CARE_HISTORY, JOB_CARE_UPDATE, Care
from sav_bridge.care.settings import CareSettings
from sav_bridge.care.watch import ResponseWatch
from sav_bridge.channels.x.client import XClient
from sav_bridge.helpdesks import Helpdesk
from sav_bridge.metrics import Metrics
from sav_bridge.model import Audience
from sav_bridge.outbox import DeadHandler, Handler
from sav_bridge.policy.live import LivePolicy
from sav_bridge.store import Store


@dataclass(frozen=True)
class CareParts:
    pipeline: Care
    jobs: CareJobs
    watch: ResponseWatch

    def handlers(self) -> dict[str, Handler]:
        return {
            JOB_CARE_UPDATE: self.jobs.update,
            # While X access is paused an acknowledgement waits like a reply (no attempt used); the reply
            # path's note about it would be noise here.
            JOB_CARE_ACK: self.jobs.ack,
            JOB_CARE_HISTORY: self.jobs.history,
        }

    def dead_handlers(self) -> dict[str, DeadHandler]:
        return {kind: self.jobs.on_dead for kind in (JOB_CARE_ACK, JOB_CARE_UPDATE, JOB_CARE_HISTORY)}

    def destinations(self, helpdesk: str) -> Mapping[str, str]:
        return {JOB_CARE_UPDATE: helpdesk, JOB_CARE_HISTORY: helpdesk, JOB_CARE_ACK: "x"}


def build_care(
    settings: CareSettings | None,
    store: Store,
    helpdesk: Helpdesk,
    x: XClient,
    metrics: Metrics,
    policy: LivePolicy,
    clock: Callable[[], float],
) -> CareParts | None:
    """Care for this runtime, or None when the configuration has no `care` section."""
    if settings is None:
        return None

    def personal(text: str) -> list[str]:  # the policy in force's detectors, on the customer's text
        return [finding.category for finding in policy.current.findings(text, Audience.PUBLIC)]

    return CareParts(
        Care(settings, store, helpdesk, metrics, personal, clock),
        CareJobs(settings, store, helpdesk, x, metrics, policy.decide, policy.explain),
        ResponseWatch(settings, store, helpdesk, metrics, clock),
    )
