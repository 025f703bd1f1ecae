"""A snapshot of the whole system: is Redis up, and which workers and subscribers are alive."""

from __future__ import annotations

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.connection import check_redis
from backend.consumers import Consumer, ConsumerKind, list_consumers
from backend.keys import Keys


class SystemStatus(BaseModel):
    redis_ok: bool
    redis_error: str | None = None
    workers: list[Consumer] = []
    subscribers: list[Consumer] = []

    @property
    def workers_alive(self) -> int:
        return sum(c.is_alive for c in self.workers)

    @property
    def subscribers_alive(self) -> int:
        return sum(c.is_alive for c in self.subscribers)


async def read_status(redis: Redis, keys: Keys, heartbeat_timeout: float) -> SystemStatus:
    error = await check_redis(redis)
    if error is not None:
        return SystemStatus(redis_ok=False, redis_error=error)
    try:
        workers = await list_consumers(redis, keys, ConsumerKind.WORKER, heartbeat_timeout)
        subscribers = await list_consumers(redis, keys, ConsumerKind.SUBSCRIBER, heartbeat_timeout)
    except RedisError as exc:
        return SystemStatus(redis_ok=False, redis_error=f"Redis error: {exc}")
    return SystemStatus(redis_ok=True, workers=workers, subscribers=subscribers)
