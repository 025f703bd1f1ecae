from __future__ import annotations

import time

from redis.asyncio import Redis

from backend.core.consumers import ConsumerKind, ConsumerState, Heartbeat, list_consumers
from backend.core.keys import Keys


async def test_a_beating_consumer_is_listed_with_its_state(redis: Redis, keys: Keys) -> None:
    heartbeat = Heartbeat(redis, keys, ConsumerKind.WORKER, "worker:test:1")
    await heartbeat.beat(ConsumerState.BUSY, processed=7)
    [consumer] = await list_consumers(redis, keys, ConsumerKind.WORKER, heartbeat_timeout=5)
    assert consumer.id == "worker:test:1"
    assert consumer.state is ConsumerState.BUSY
    assert consumer.processed == 7
    assert await list_consumers(redis, keys, ConsumerKind.SUBSCRIBER, heartbeat_timeout=5) == []


async def test_a_silent_consumer_is_gone_then_forgotten(redis: Redis, keys: Keys) -> None:
    heartbeat = Heartbeat(redis, keys, ConsumerKind.SUBSCRIBER, "subscriber:test:1")
    await heartbeat.beat(ConsumerState.IDLE)
    stale = time.time() - 10
    await redis.zadd(keys.consumers("subscriber"), {"subscriber:test:1": stale})
    await redis.hset(keys.consumer("subscriber:test:1"), "last_beat", stale)
    [consumer] = await list_consumers(redis, keys, ConsumerKind.SUBSCRIBER, heartbeat_timeout=5)
    assert consumer.state is ConsumerState.GONE

    await redis.zadd(keys.consumers("subscriber"), {"subscriber:test:1": time.time() - 3600})
    assert await list_consumers(redis, keys, ConsumerKind.SUBSCRIBER, heartbeat_timeout=5) == []


async def test_sign_off_shows_gone_at_once(redis: Redis, keys: Keys) -> None:
    heartbeat = Heartbeat(redis, keys, ConsumerKind.WORKER, "worker:test:2")
    await heartbeat.beat(ConsumerState.IDLE)
    await heartbeat.sign_off()
    [consumer] = await list_consumers(redis, keys, ConsumerKind.WORKER, heartbeat_timeout=5)
    assert consumer.state is ConsumerState.GONE


async def test_key_prefix_separates_deployments(redis: Redis) -> None:
    await Heartbeat(redis, Keys("a:"), ConsumerKind.WORKER, "w1").beat(ConsumerState.IDLE)
    assert await list_consumers(redis, Keys("b:"), ConsumerKind.WORKER, heartbeat_timeout=5) == []
    assert all(k.startswith("a:") for k in await redis.keys("*"))
