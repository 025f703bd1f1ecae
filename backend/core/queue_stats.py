"""What the queue holds right now, and the consumer group every worker reads through."""

from __future__ import annotations

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from backend.core.keys import Keys
from backend.core.scripts.queue import RANK_STEP

GROUP = "workers"


class QueueStats(BaseModel):
    depth: int = Field(description="Jobs waiting for a worker")
    in_flight: int = Field(description="Jobs a worker holds")
    delayed: int = Field(description="Failed attempts waiting for their retry")
    scheduled: int = Field(default=0, description="Jobs sent with `delay` or `at`, not due yet")
    rate_limited: int = Field(
        default=0, description="Jobs held back by their task's rate limit (they wait, not fail)"
    )
    waiting_by_priority: dict[str, int] = Field(
        default_factory=dict,
        description='Runnable jobs per priority (`"0"`-`"9"`), only those with any',
    )
    dead: int = Field(description="Jobs in the dead-letter set")
    enqueued: int
    succeeded: int
    failed: int = Field(description="Failed attempts (retried or not)")
    cancelled: int
    taken_over: int = Field(
        default=0,
        description="Jobs started again because the worker holding them stopped: each may have"
        " run twice",
    )


async def queue_stats(redis: Redis, keys: Keys) -> QueueStats:
    depth, in_flight = await queue_depth(redis, keys)
    async with redis.pipeline(transaction=False) as pipe:
        for name in ("delayed", "dead", "scheduled", "limited"):
            pipe.zcard(getattr(keys, name))
        pipe.hgetall(keys.stats)
        for priority in range(10):
            low = (9 - priority) * RANK_STEP
            pipe.zcount(keys.ready, low, f"({low + RANK_STEP}")
        delayed, dead, scheduled, limited, counters, *per_priority = await pipe.execute()
    return QueueStats(
        depth=depth,
        in_flight=in_flight,
        delayed=int(delayed),
        dead=int(dead),
        scheduled=int(scheduled),
        rate_limited=int(limited),
        waiting_by_priority={str(p): int(n) for p, n in enumerate(per_priority) if n},
        **{k: int(counters.get(k, 0)) for k in ("enqueued", "succeeded", "failed")},
        cancelled=int(counters.get("cancelled", 0)),
        taken_over=int(counters.get("taken_over", 0)),
    )


async def queue_depth(redis: Redis, keys: Keys) -> tuple[int, int]:
    """Jobs waiting for a worker (runnable, or in the stream not yet read), and jobs a worker
    holds."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(keys.ready)
        pipe.xlen(keys.stream)
        pipe.xinfo_groups(keys.stream)
        replies = await pipe.execute(raise_on_error=False)
    ready = replies[0] if isinstance(replies[0], int) else 0
    length = replies[1] if isinstance(replies[1], int) else 0
    groups = replies[2] if isinstance(replies[2], list) else []
    in_flight = sum(int(g.get("pending", 0)) for g in groups)
    return ready + max(0, length - in_flight), in_flight


async def ensure_group(redis: Redis, keys: Keys) -> None:
    """The workers' consumer group (and the stream), created if Redis has none yet."""
    try:
        await redis.xgroup_create(keys.stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
