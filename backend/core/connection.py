"""The one Redis connection pool of a process, on a single Redis or a Redis Cluster, and the
readiness probe built on it.

Both clients speak the same commands; the cluster client routes each to the node owning its
key's slot, follows redirects and failovers, and runs pipelines per node. Code elsewhere is
written against `Redis` and asks `is_cluster` where the two differ (pub/sub, WAIT, INFO).
"""

from __future__ import annotations

import asyncio
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from backend.settings import Settings

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def create_redis(settings: Settings, url: str | None = None) -> Redis:
    """A client over one pool; commands retry briefly so a Redis restart is ridden out."""
    target = url or settings.redis_url or DEFAULT_URL
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3)
    if settings.redis_cluster:
        cluster = RedisCluster.from_url(
            target,
            decode_responses=True,
            socket_connect_timeout=2.0,
            socket_keepalive=True,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=6),
        )
        return cast(Redis, cluster)  # the same commands; see is_cluster for the differences
    return Redis.from_url(
        target,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_keepalive=True,
        health_check_interval=15,
        retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def is_cluster(redis: Redis) -> bool:
    return isinstance(redis, RedisCluster)


async def check_redis(redis: Redis, within: float = 1.0) -> str | None:
    """None when Redis answers PING in time, else the reason it does not."""
    try:
        async with asyncio.timeout(within):
            await redis.ping()
    except TimeoutError:
        return f"Redis did not answer PING within {within:g}s"
    except (RedisError, OSError) as exc:
        return f"Redis unreachable: {exc}"
    return None
