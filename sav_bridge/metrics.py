"""Prometheus metrics, on a registry of the app's own so several apps (tests) never collide."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, generate_latest

if TYPE_CHECKING:
    from sav_bridge.store.destinations import Destination


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
        self.x_alert = Gauge(
            "sav_bridge_x_alert", "1 while an X health alert is on (sav-bridge x status says why)", ["name"],
            registry=self.registry,
        )  # fmt: skip
        self.x_auth_failures = Counter(
            "sav_bridge_x_auth_failures", "Times X refused the gateway's access (401 after any refresh)",
            registry=self.registry,
        )  # fmt: skip
        self.x_paused = Gauge(
            "sav_bridge_x_paused", "1 while replies to X wait for X access to be restored (alert on 1)",
            registry=self.registry,
        )  # fmt: skip
        self.x_token_refreshes = Counter(
            "sav_bridge_x_token_refreshes", "OAuth 2.0 access-token refreshes this replica made",
            registry=self.registry,
        )  # fmt: skip
        # The HTTP edge (sav_bridge.edge).
        self.requests_in_flight = Gauge(
            "sav_bridge_requests_in_flight", "Requests being served now (server.max_concurrent_requests caps it)",
            registry=self.registry,
        )  # fmt: skip
        self.requests_shed = Counter(
            "sav_bridge_requests_shed", "Requests answered 503 at once because server.max_concurrent_requests "
            "were in flight (senders retry; sustained: add replicas or raise the limit)", registry=self.registry,
        )  # fmt: skip
        self.store_unavailable = Counter(
            "sav_bridge_store_unavailable", "Inbound requests answered 503 because the database could not commit "
            "(alert on any: senders retry only for a while)", ["source"], registry=self.registry,
        )  # fmt: skip
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
        # Social care (sav_bridge.care).
        self.care_acks = Counter(
            "sav_bridge_care_acks", "Automatic acknowledgements sent on X", ["via"], registry=self.registry
        )
        self.care_raised = Counter(
            "sav_bridge_care_raised", "Tickets whose priority care raised, by why (mood, routing, watch)",
            ["reason"], registry=self.registry,
        )  # fmt: skip
        self.care_waiting = Gauge(
            "sav_bridge_care_waiting", "Conversations whose customer waits for an agent's answer",
            registry=self.registry,
        )  # fmt: skip
        self.care_late = Counter(
            "sav_bridge_care_response_warnings", "Conversations that neared a response target without an "
            "agent's answer (first or next)", ["target"], registry=self.registry,
        )  # fmt: skip
        self.failures = Counter(
            "sav_bridge_failures", "Job attempts that failed", ["kind", "retryable"], registry=self.registry
        )
        self.dead_letters = Counter(
            "sav_bridge_dead_letters", "Jobs given up", ["kind"], registry=self.registry
        )
        self.leases_lost = Counter(
            "sav_bridge_leases_lost",
            "Jobs whose lease passed to another holder while they ran (stalled worker); each stopped before"
            " its next external call",
            registry=self.registry,
        )
        self.queue_depth = Gauge("sav_bridge_queue_depth", "Jobs by state", ["state"], registry=self.registry)
        # The outbox as the operator tools see it (sav_bridge.ops.gauges), read from the store at each scrape.
        self.dead_jobs = Gauge(
            "sav_bridge_dead_jobs", "Jobs in the dead letters now, by kind (alert on > 0)", ["kind"],
            registry=self.registry,
        )  # fmt: skip
        self.held_conversations = Gauge(
            "sav_bridge_held_conversations",
            "Conversations whose oldest unfinished job is dead: nothing later in them runs until a person "
            "replays or skips it (alert on > 0)",
            registry=self.registry,
        )
        self.queue_age = Gauge(
            "sav_bridge_queue_age_seconds",
            "How long the oldest runnable job has waited for a worker; 0 when none waits",
            registry=self.registry,
        )
        # Destinations (sav_bridge.store.destinations), shared by every replica, read at each scrape.
        self.destination_breaker_open = Gauge(
            "sav_bridge_destination_breaker_open",
            "1 while the destination's circuit breaker is open or half-open after failures in a row: its jobs "
            "wait, others run (alert when it stays 1)",
            ["destination"], registry=self.registry,
        )  # fmt: skip
        self.destination_parked_seconds = Gauge(
            "sav_bridge_destination_parked_seconds",
            "Seconds left before the destination is written to again: it answered 429, Retry-After or a spent "
            "quota (jobs wait without using attempts); 0 when not parked",
            ["destination"], registry=self.registry,
        )  # fmt: skip
        self.approvals_overdue = Gauge(
            "sav_bridge_approvals_overdue",
            "Held replies nobody approved or rejected within console.approval_timeout_hours (alert on > 0)",
            registry=self.registry,
        )
        self.helpdesk_api_usage = Gauge(
            "sav_bridge_helpdesk_api_usage",
            "The helpdesk's API allocation as its last answer told it (measure: used, limit)",
            ["helpdesk", "measure"], registry=self.registry,
        )  # fmt: skip
        # X billing (sav_bridge.channels.x.billing): counters of this replica, gauges of all (from the store)
        self.x_requests = Counter(
            "sav_bridge_x_requests", "Billed X requests", ["kind"], registry=self.registry
        )
        self.x_resources = Counter(
            "sav_bridge_x_resources", "Resources billed X requests returned or made", ["kind"],
            registry=self.registry,
        )  # fmt: skip
        self.x_spend_micros = Counter(
            "sav_bridge_x_spend_micros", "What billed X requests cost, in micro-dollars", ["kind"],
            registry=self.registry,
        )  # fmt: skip
        self.x_month_spend_micros = Gauge(
            "sav_bridge_x_month_spend_micros", "This month's X spend, all replicas", registry=self.registry
        )
        self.x_month_requests = Gauge(
            "sav_bridge_x_month_requests", "This month's billed X requests, all replicas",
            registry=self.registry,
        )  # fmt: skip
        self.x_budget_remaining = Gauge(
            "sav_bridge_x_budget_remaining", "What x.budget leaves this month", ["unit"],
            registry=self.registry,
        )  # fmt: skip
        self.x_budget_exhausted = Gauge(
            "sav_bridge_x_budget_exhausted", "1 while polling is stopped by x.budget (alert on 1)",
            registry=self.registry,
        )  # fmt: skip
        self.x_polled = Counter(
            "sav_bridge_x_polled", "Items read from X by polling or backfill", ["timeline", "mode"],
            registry=self.registry,
        )  # fmt: skip
        self.x_poll_failures = Counter(
            "sav_bridge_x_poll_failures", "Polling rounds that failed", ["timeline"], registry=self.registry
        )
        self.policy = Info("sav_bridge_policy", "The posting policy in force", registry=self.registry)
        # The workers' own process (sav_bridge.worker_process, workers.process: separate).
        self.worker_process_up = Gauge(
            "sav_bridge_worker_process_up", "1 while the workers' process of this replica runs (workers.process: "
            "separate; alert when it stays 0)", registry=self.registry,
        )  # fmt: skip
        self.worker_process_restarts = Counter(
            "sav_bridge_worker_process_restarts", "Times the workers' process died and was started again "
            "(its log says why)", registry=self.registry,
        )  # fmt: skip
        #: The worker process's latest metrics (`metrics_merge.snapshot`), when the workers run apart.
        self.other: Callable[[], list[dict[str, Any]] | None] | None = None

    def show_destinations(self, destinations: Iterable[Destination], now: float) -> None:
        """Set the destination gauges from `Destinations.state()`."""
        for destination in destinations:
            self.destination_breaker_open.labels(destination.name).set(1 if destination.breaker_open else 0)
            self.destination_parked_seconds.labels(destination.name).set(destination.parked_seconds(now))

    def render(
        self, jobs_by_state: dict[str, int], helpdesk_usage: Mapping[str, Mapping[str, float]] | None = None
    ) -> bytes:
        """The exposition text; `helpdesk_usage` is each helpdesk's API allocation as its vendor last said."""
        for state in ("pending", "running", "done", "dead"):
            self.queue_depth.labels(state).set(jobs_by_state.get(state, 0))
        self.show_usage(helpdesk_usage or {})
        return self.exposition()

    def show_usage(self, helpdesk_usage: Mapping[str, Mapping[str, float]]) -> None:
        for helpdesk, usage in helpdesk_usage.items():
            for measure, value in usage.items():
                self.helpdesk_api_usage.labels(helpdesk, measure).set(value)

    def exposition(self) -> bytes:
        """The exposition text as it stands, the worker process's counts merged in when it runs apart."""
        if self.other is None:
            return generate_latest(self.registry)
        from sav_bridge.metrics_merge import merged

        return merged(self, self.other())
