"""Metrics: samples of the queue over the last minutes, Redis facts, and the Prometheus text.

Every web process runs the sampler, but for each time slot only the one that claims the slot in
Redis writes the sample, so the history is the same whichever process a dashboard talks to.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core.consumers import Consumer
from backend.core.keys import Keys
from backend.core.stats import queue_depth
from backend.procs.role import stop_if_cancelled

log = logging.getLogger("courier.metrics")

SAMPLE_EVERY = 2
KEEP_SAMPLES = 150  # five minutes


class Sample(BaseModel):
    t: float
    depth: int
    in_flight: int
    succeeded: int
    rate: float  # jobs/s finished since the previous sample
    p50: float | None  # seconds, jobs finished since the previous sample
    p95: float | None


class RedisFacts(BaseModel):
    version: str
    used_memory: str
    connected_clients: int


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


async def recent_latencies(redis: Redis, keys: Keys, since: float) -> list[float]:
    rows: Any = await redis.lrange(keys.latencies, 0, 1999)
    found = []
    for row in rows:
        finished, _, seconds = str(row).partition(" ")
        if float(finished) < since:
            break  # newest first: the rest are older
        found.append(float(seconds))
    return found


async def take_sample(redis: Redis, keys: Keys, previous: Sample | None) -> Sample:
    now = time.time()
    depth, in_flight = await queue_depth(redis, keys)
    succeeded = int(await redis.hget(keys.stats, "succeeded") or 0)
    since = previous.t if previous else now - SAMPLE_EVERY
    latencies = await recent_latencies(redis, keys, since)
    elapsed = max(0.001, now - since)
    done = succeeded - previous.succeeded if previous else 0
    return Sample(
        t=now,
        depth=depth,
        in_flight=in_flight,
        succeeded=succeeded,
        rate=max(0, done) / elapsed,
        p50=quantile(latencies, 0.5),
        p95=quantile(latencies, 0.95),
    )


async def read_samples(redis: Redis, keys: Keys, limit: int = KEEP_SAMPLES) -> list[Sample]:
    """Oldest first."""
    rows: Any = await redis.lrange(keys.samples, 0, limit - 1)
    return [Sample.model_validate_json(row) for row in reversed(rows)]


class Sampler:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def run(self) -> None:
        while True:
            stop_if_cancelled()
            await asyncio.sleep(SAMPLE_EVERY - time.time() % SAMPLE_EVERY)
            try:
                await self.sample_once()
            except RedisError as exc:
                log.debug("metrics sample skipped: %s", exc)

    async def sample_once(self) -> bool:
        slot = int(time.time() // SAMPLE_EVERY)
        claimed = await self.redis.set(self.keys.sample_slot(slot), "1", nx=True, ex=60)
        if not claimed:
            return False
        latest = await read_samples(self.redis, self.keys, 1)
        sample = await take_sample(self.redis, self.keys, latest[-1] if latest else None)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.keys.samples, sample.model_dump_json())
            pipe.ltrim(self.keys.samples, 0, KEEP_SAMPLES - 1)
            await pipe.execute()
        return True


async def redis_facts(redis: Redis) -> RedisFacts:
    info: Any = await redis.info()
    return RedisFacts(
        version=str(info.get("redis_version", "?")),
        used_memory=str(info.get("used_memory_human", "?")),
        connected_clients=int(info.get("connected_clients", 0)),
    )


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
