"""`/metrics` in the Prometheus text format, written by prometheus_client.

The job counters and the latency histogram live in Redis, where every worker adds to them, so
they count the whole deployment and only ever grow (they start over only if Redis loses its
data). Any web process reports the same values: scrape one of them, or keep `instance` out of
the aggregation. The session gauge and the process metrics are this web process's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from backend.core.consumers import Consumer
from backend.core.pubsub import PubSubStats
from backend.core.queue import QueueStats
from backend.core.scripts.deliveries import LATENCY_BUCKETS

QUEUE_STATES = ("depth", "in_flight", "delayed", "dead")
JOB_EVENTS = ("enqueued", "succeeded", "failed", "dead", "cancelled", "taken_over")


@dataclass(frozen=True)
class Snapshot:
    """Everything /metrics shows, read from Redis (and this process) at scrape time."""

    queue: QueueStats
    pubsub: PubSubStats
    consumers: list[Consumer]
    latency: dict[str, str]  # the histogram hash: bucket bound -> count, sum, count
    instance: str
    sessions: int


class SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        snap = self.snapshot
        queue = _gauge("courier_queue_jobs", "Jobs by where they are now.", "state")
        for state in QUEUE_STATES:
            queue.add_metric([state], getattr(snap.queue, state))
        jobs = _counter("courier_jobs", "Jobs enqueued and attempt outcomes.", "event")
        for event in JOB_EVENTS:
            jobs.add_metric([event], getattr(snap.queue, event))
        pubsub = _counter("courier_pubsub_messages", "Published, delivered and lost.", "event")
        for event, value in snap.pubsub.model_dump().items():
            pubsub.add_metric([event], value)
        sessions = _gauge("courier_web_sessions", "Sessions on this web process.", "instance")
        sessions.add_metric([snap.instance], snap.sessions)
        return [queue, jobs, pubsub, _consumers(snap.consumers), _latency(snap.latency), sessions]


def _gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def _counter(name: str, documentation: str, *labels: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, labels=list(labels))


def _consumers(consumers: list[Consumer]) -> GaugeMetricFamily:
    family = _gauge("courier_consumers", "Consumer processes by kind and state.", "kind", "state")
    counts: dict[tuple[str, str], int] = {}
    for consumer in consumers:
        key = (consumer.kind.value, consumer.state.value)
        counts[key] = counts.get(key, 0) + 1
    for (kind, state), count in sorted(counts.items()):
        family.add_metric([kind, state], count)
    return family


def _latency(row: dict[str, str]) -> HistogramMetricFamily:
    """Cumulative buckets from the per-bucket counts kept in Redis."""
    buckets: list[tuple[str, float]] = []
    total = 0
    for bound in LATENCY_BUCKETS:
        total += int(row.get(bound, 0))
        buckets.append((bound, total))
    buckets.append(("+Inf", int(row.get("count", 0))))
    return HistogramMetricFamily(
        "courier_job_latency_seconds",
        "Enqueue to result of every job that succeeded.",
        buckets=buckets,
        sum_value=float(row.get("sum", 0)),
    )


def exposition(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    ProcessCollector(registry=registry)
    return generate_latest(registry)


def as_row(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(raw or {}).items()}
