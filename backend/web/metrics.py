"""The Prometheus text for `/metrics`: queue, jobs, pub/sub, consumers and job latency."""

from __future__ import annotations

from backend.core.consumers import Consumer
from backend.core.stats import quantile


def prometheus_text(
    stats: dict[str, int],
    pubsub: dict[str, int],
    consumers: list[Consumer],
    latencies: list[float],
) -> str:
    """The Prometheus text exposition format, version 0.0.4."""
    lines = [
        "# HELP courier_queue_jobs Jobs by where they are now.",
        "# TYPE courier_queue_jobs gauge",
        *(
            f'courier_queue_jobs{{state="{k}"}} {stats[k]}'
            for k in ("depth", "in_flight", "delayed", "dead")
        ),
        "# HELP courier_jobs_total Jobs enqueued and attempt outcomes since Redis was empty.",
        "# TYPE courier_jobs_total counter",
        *(
            f'courier_jobs_total{{event="{k}"}} {stats[k]}'
            for k in ("enqueued", "succeeded", "failed", "cancelled")
        ),
        "# HELP courier_pubsub_messages_total Pub/sub messages published, deliveries, and lost.",
        "# TYPE courier_pubsub_messages_total counter",
        *(f'courier_pubsub_messages_total{{event="{k}"}} {v}' for k, v in pubsub.items()),
        "# HELP courier_consumers Consumer processes by kind and state.",
        "# TYPE courier_consumers gauge",
        *_consumer_lines(consumers),
        "# HELP courier_job_latency_seconds Enqueue to result, over the last minute.",
        "# TYPE courier_job_latency_seconds summary",
        *_latency_lines(latencies),
    ]
    return "\n".join(lines) + "\n"


def _consumer_lines(consumers: list[Consumer]) -> list[str]:
    counts: dict[tuple[str, str], int] = {}
    for consumer in consumers:
        key = (consumer.kind.value, consumer.state.value)
        counts[key] = counts.get(key, 0) + 1
    return [
        f'courier_consumers{{kind="{k}",state="{s}"}} {n}' for (k, s), n in sorted(counts.items())
    ]


def _latency_lines(latencies: list[float]) -> list[str]:
    lines = []
    for q in (0.5, 0.95, 0.99):
        value = quantile(latencies, q)
        lines.append(
            f'courier_job_latency_seconds{{quantile="{q}"}} {value if value is not None else "NaN"}'
        )
    lines.append(f"courier_job_latency_seconds_sum {sum(latencies)}")
    lines.append(f"courier_job_latency_seconds_count {len(latencies)}")
    return lines
