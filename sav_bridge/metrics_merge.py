"""One `/metrics` for a replica whose workers run in a process of their own (`sav_bridge.worker_process`).

Both processes hold the same `Metrics`; the child sends a `snapshot` of its own every second and the HTTP
process renders `merged`: counters are summed (each process counts what it did), a gauge the workers'
side sets (`WORKER_GAUGES`) is the child's, any other gauge is the HTTP process's (the figures read from
the database at each scrape, the health alerts, requests in flight).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sav_bridge.metrics import Metrics

#: Gauges set by what runs in the worker process: X billing (the meter counts the workers' and the
#: poller's requests), the pause of X access (lifted by a post that goes through), the helpdesk's API usage.
WORKER_GAUGES = frozenset(
    {
        "sav_bridge_x_paused",
        "sav_bridge_x_month_spend_micros",
        "sav_bridge_x_month_requests",
        "sav_bridge_x_budget_remaining",
        "sav_bridge_x_budget_exhausted",
        "sav_bridge_helpdesk_api_usage",
    }
)

Snapshot = list[dict[str, Any]]


def snapshot(metrics: Metrics) -> Snapshot:
    """The families of `metrics` as JSON-ready data."""
    return [
        {
            "name": family.name,
            "type": family.type,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
        for family in metrics.registry.collect()
    ]


def merged(metrics: Metrics, other: Snapshot | None) -> bytes:
    """The exposition text of `metrics` with the worker process's `other` merged in (module docstring)."""
    if not other:
        return generate_latest(metrics.registry)
    theirs = {family["name"]: family for family in other}
    families = [_merge(family, theirs.get(family.name)) for family in metrics.registry.collect()]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry)


def _merge(own: Metric, other: dict[str, Any] | None) -> Metric:
    if other is None or other["type"] != own.type:
        return own
    values = {_key(s.name, s.labels): s.value for s in own.samples}
    if own.type == "counter":
        for name, labels, value in other["samples"]:
            key = _key(name, labels)
            if name.endswith("_created"):
                values[key] = min(values.get(key, value), value)
            else:
                values[key] = values.get(key, 0.0) + value
    elif own.type == "gauge" and own.name in WORKER_GAUGES:
        values = {_key(name, labels): value for name, labels, value in other["samples"]}
    else:
        return own
    merged = Metric(own.name, own.documentation, own.type, own.unit)
    for (name, labels), value in values.items():
        merged.add_sample(name, dict(labels), value)
    return merged


def _key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


class _Fixed(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families
