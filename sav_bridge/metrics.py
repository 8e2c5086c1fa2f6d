"""Prometheus metrics, on a registry of the app's own so several apps (tests) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events_in = Counter(
            "sav_bridge_events_in",
            "Inbound webhook events accepted",
            ["source", "kind"],
            registry=self.registry,
        )
        self.events_dropped = Counter(
            "sav_bridge_events_dropped", "Inbound events ignored on purpose", ["source", "reason"],
            registry=self.registry,
        )  # fmt: skip
        self.webhooks_rejected = Counter(
            "sav_bridge_webhooks_rejected",
            "Inbound requests refused",
            ["source", "status"],
            registry=self.registry,
        )
        self.x_revocations = Counter(
            "sav_bridge_x_revocations",
            "Times the brand account revoked the app's access on X (alert on any)",
            registry=self.registry,
        )
        self.tickets_opened = Counter("sav_bridge_tickets_opened", "Tickets opened", registry=self.registry)
        self.comments_added = Counter(
            "sav_bridge_comments_added", "Customer follow-ups added to tickets", registry=self.registry
        )
        self.replies_posted = Counter(
            "sav_bridge_replies_posted", "Agent replies published", ["audience"], registry=self.registry
        )
        self.policy_decisions = Counter(
            "sav_bridge_policy_decisions", "Posting-policy decisions", ["action"], registry=self.registry
        )
        self.failures = Counter(
            "sav_bridge_failures", "Job attempts that failed", ["kind", "retryable"], registry=self.registry
        )
        self.dead_letters = Counter(
            "sav_bridge_dead_letters", "Jobs given up", ["kind"], registry=self.registry
        )
        self.queue_depth = Gauge("sav_bridge_queue_depth", "Jobs by state", ["state"], registry=self.registry)
        self.policy = Info("sav_bridge_policy", "The posting policy in force", registry=self.registry)

    def render(self, jobs_by_state: dict[str, int]) -> bytes:
        for state in ("pending", "running", "done", "dead"):
            self.queue_depth.labels(state).set(jobs_by_state.get(state, 0))
        return generate_latest(self.registry)
