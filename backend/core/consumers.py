"""Who is consuming: heartbeats of worker and subscriber processes, and reading them back.

Each consumer process writes its heartbeat into a sorted set (score = last beat, unix time) and
its details into a hash. A consumer whose last beat is older than the timeout is shown as gone;
one gone for a minute is forgotten. Reading never needs the consumer to be alive.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, cast

from pydantic import BaseModel
from redis.asyncio import Redis

from backend.core.keys import Keys
from backend.core.loops import every

log = logging.getLogger("courier.heartbeat")

FORGET_AFTER = 60.0
DETAILS_TTL = 3600


class ConsumerKind(StrEnum):
    WORKER = "worker"
    SUBSCRIBER = "subscriber"


class ConsumerState(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    PAUSED = "paused"
    GONE = "gone"


class Consumer(BaseModel):
    id: str
    kind: ConsumerKind
    state: ConsumerState
    host: str
    pid: int
    last_beat: float
    processed: int = 0

    @property
    def is_alive(self) -> bool:
        return self.state is not ConsumerState.GONE


def new_consumer_id(kind: ConsumerKind) -> str:
    return f"{kind.value}:{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """The writing side, owned by one consumer process."""

    def __init__(self, redis: Redis, keys: Keys, kind: ConsumerKind, consumer_id: str) -> None:
        self.redis = redis
        self.keys = keys
        self.kind = kind
        self.id = consumer_id

    async def beat(self, state: ConsumerState, **counters: int) -> None:
        now = time.time()
        details: dict[Any, str | int | float] = {
            "kind": self.kind.value,
            "state": state.value,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "last_beat": now,
            **counters,
        }
        # Two keys in two slots of a cluster: no transaction (readers skip an id with no hash).
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(self.keys.consumer(self.id), mapping=details)
            pipe.expire(self.keys.consumer(self.id), DETAILS_TTL)
            pipe.zadd(self.keys.consumers(self.kind), {self.id: now})
            pipe.zremrangebyscore(self.keys.consumers(self.kind), "-inf", now - FORGET_AFTER)
            await pipe.execute()

    async def beat_forever(
        self,
        interval: float,
        state: Callable[[], ConsumerState],
        counters: Callable[[], dict[str, int]],
    ) -> None:
        """Beats every `interval` seconds; a Redis outage is logged once and ridden out."""

        async def beat() -> None:
            await self.beat(state(), **counters())

        await every(interval, beat, log=log, what="heartbeat", first_wait=False)

    async def sign_off(self) -> None:
        """Show this consumer as gone at once instead of after the heartbeat timeout."""
        await self.redis.hset(self.keys.consumer(self.id), "state", ConsumerState.GONE.value)


async def list_consumers(
    redis: Redis, keys: Keys, kind: ConsumerKind, heartbeat_timeout: float
) -> list[Consumer]:
    """Consumers of one kind seen in the last minute, alive ones first, each with its state."""
    now = time.time()
    found = await redis.zrangebyscore(keys.consumers(kind), now - FORGET_AFTER, "+inf")
    ids = cast(list[str], found)
    if not ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for consumer_id in ids:
            pipe.hgetall(keys.consumer(consumer_id))
        rows: list[dict[str, str]] = await pipe.execute()
    consumers = [
        _consumer(consumer_id, kind, row, now, heartbeat_timeout)
        for consumer_id, row in zip(ids, rows, strict=True)
        if row
    ]
    return sorted(consumers, key=lambda c: (not c.is_alive, c.id))


async def is_known(redis: Redis, keys: Keys, consumer_id: str) -> bool:
    """Whether a worker or subscriber with this id has beaten in the last minute."""
    async with redis.pipeline(transaction=False) as pipe:
        for kind in ConsumerKind:
            pipe.zscore(keys.consumers(kind), consumer_id)
        scores = await pipe.execute()
    return any(score is not None and score > time.time() - FORGET_AFTER for score in scores)


def _consumer(
    consumer_id: str, kind: ConsumerKind, row: dict[str, str], now: float, timeout: float
) -> Consumer:
    last_beat = float(row.get("last_beat", 0))
    state = ConsumerState(row.get("state", ConsumerState.GONE.value))
    if now - last_beat > timeout:
        state = ConsumerState.GONE
    return Consumer(
        id=consumer_id,
        kind=kind,
        state=state,
        host=row.get("host", "?"),
        pid=int(row.get("pid", 0)),
        last_beat=last_beat,
        processed=int(row.get("processed", 0)),
    )
