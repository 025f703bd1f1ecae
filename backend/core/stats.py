"""What the system is doing: a snapshot (is Redis up, which consumers are alive, queue depth)
for the pages and `/api/status`, and the dashboard's samples over the last minutes.

Every web process runs the sampler, but for each time slot only the one that claims the slot in
Redis writes the sample, so the history is the same whichever process a dashboard talks to.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any, Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core.connection import check_redis
from backend.core.consumers import Consumer, ConsumerKind, list_consumers
from backend.core.keys import Keys
from backend.core.loops import every
from backend.core.queue import queue_depth
from backend.core.topology import redis_shape


class SystemStatus(BaseModel):
    redis_ok: bool
    redis_error: str | None = None
    redis_mode: Literal["single", "cluster"] = "single"
    redis_primaries: int = Field(default=1, description="Primaries serving Courier's keys")
    workers: list[Consumer] = []
    subscribers: list[Consumer] = []
    depth: int = 0
    in_flight: int = 0

    @property
    def workers_alive(self) -> int:
        return sum(c.is_alive for c in self.workers)

    @property
    def subscribers_alive(self) -> int:
        return sum(c.is_alive for c in self.subscribers)


async def read_status(redis: Redis, keys: Keys, heartbeat_timeout: float) -> SystemStatus:
    error = await check_redis(redis)
    shape = redis_shape(redis)
    if error is not None:
        return SystemStatus(redis_ok=False, redis_error=error, **shape)
    try:
        workers = await list_consumers(redis, keys, ConsumerKind.WORKER, heartbeat_timeout)
        subscribers = await list_consumers(redis, keys, ConsumerKind.SUBSCRIBER, heartbeat_timeout)
        depth, in_flight = await queue_depth(redis, keys)
    except RedisError as exc:
        return SystemStatus(redis_ok=False, redis_error=f"Redis error: {exc}", **shape)
    return SystemStatus(
        redis_ok=True,
        **shape,
        workers=workers,
        subscribers=subscribers,
        depth=depth,
        in_flight=in_flight,
    )


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


def _until_next_slot() -> float:
    return SAMPLE_EVERY - time.time() % SAMPLE_EVERY


class Sampler:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def run(self) -> None:
        """One sample at each slot boundary, for the life of the web process."""
        await every(_until_next_slot, self.sample_once, log=log, what="metrics sample")

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
