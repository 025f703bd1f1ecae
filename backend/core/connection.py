"""The one Redis connection pool of a process, and the readiness probe built on it."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from backend.settings import Settings

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def create_redis(settings: Settings, url: str | None = None) -> Redis:
    """A client over one pool; commands retry briefly so a Redis restart is ridden out."""
    return Redis.from_url(
        url or settings.redis_url or DEFAULT_URL,
        decode_responses=True,
        socket_connect_timeout=2.0,
        socket_keepalive=True,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


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
