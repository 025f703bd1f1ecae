"""A snapshot of the whole system: is Redis up, and which workers and subscribers are alive."""

from __future__ import annotations

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core.connection import check_redis
from backend.core.consumers import Consumer, ConsumerKind, list_consumers
from backend.core.keys import Keys


class SystemStatus(BaseModel):
    redis_ok: bool
    redis_error: str | None = None
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
    if error is not None:
        return SystemStatus(redis_ok=False, redis_error=error)
    try:
        workers = await list_consumers(redis, keys, ConsumerKind.WORKER, heartbeat_timeout)
        subscribers = await list_consumers(redis, keys, ConsumerKind.SUBSCRIBER, heartbeat_timeout)
        depth, in_flight = await queue_depth(redis, keys)
    except RedisError as exc:
        return SystemStatus(redis_ok=False, redis_error=f"Redis error: {exc}")
    return SystemStatus(
        redis_ok=True,
        workers=workers,
        subscribers=subscribers,
        depth=depth,
        in_flight=in_flight,
    )


async def queue_depth(redis: Redis, keys: Keys) -> tuple[int, int]:
    """Jobs waiting for a worker, and jobs a worker holds."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xlen(keys.stream)
        pipe.xinfo_groups(keys.stream)
        replies = await pipe.execute(raise_on_error=False)
    length = replies[0] if isinstance(replies[0], int) else 0
    groups = replies[1] if isinstance(replies[1], list) else []
    in_flight = sum(int(g.get("pending", 0)) for g in groups)
    return max(0, length - in_flight), in_flight
