"""The queue's Redis side, in-process against a real redis-server (workers in burst mode)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from backend.core.deliveries import Deliveries
from backend.core.keys import Keys
from backend.core.queue import GROUP, JobQueue
from backend.procs.worker import Worker
from backend.settings import Settings

pytestmark = pytest.mark.cluster


async def run_burst(settings: Settings) -> Worker:
    """Processes what is queued, then returns: no sleeps, no subprocess."""
    worker = Worker(settings, burst=True)
    await asyncio.wait_for(worker.run(asyncio.Event()), 20)
    return worker


async def test_state_is_kept_from_the_end_not_the_start(
    settings: Settings, redis: Redis, keys: Keys
) -> None:
    settings = settings.model_copy(update={"job_retention": 120})
    queue = JobQueue(redis, keys, settings)
    job_id = await queue.enqueue("uppercase", "backlog", {})
    assert await redis.ttl(keys.job(job_id)) == -1, "an unfinished job never expires"
    worker = await run_burst(settings)
    assert worker.processed == 1
    assert 100 < await redis.ttl(keys.job(job_id)) <= 120
    job = await queue.get(job_id)
    assert job is not None
    assert job.result == "BACKLOG"


async def test_enqueue_twice_with_the_same_id_queues_once(
    settings: Settings, redis: Redis, keys: Keys
) -> None:
    queue = JobQueue(redis, keys, settings)
    job_id = await queue.enqueue("uppercase", "x", {})
    fields = {"id": job_id, "task": "uppercase", "text": "x", "status": "queued"}
    pairs = [item for pair in fields.items() for item in pair]
    args = [job_id, *pairs]
    job_keys = [keys.job(job_id), keys.stream, keys.stats, keys.job_index, *keys.job_tail]
    again = await queue._enqueue(keys=job_keys, args=args)
    assert again == 0
    assert await redis.xlen(keys.stream) == 1


async def test_take_over_reaches_dead_entries_behind_live_ones(
    settings: Settings, redis: Redis, keys: Keys
) -> None:
    settings = settings.model_copy(update={"visibility_timeout": 0.05})
    producer, queue = JobQueue(redis, keys, settings), Deliveries(redis, keys, settings)
    await queue.ensure_group()
    for i in range(40):
        await producer.enqueue("uppercase", f"job {i}", {})
    live = await queue.read("live", 30, 10)
    dead = await queue.read("dead", 10, 10)
    await asyncio.sleep(0.1)
    rescued: list[str] = []
    for _ in range(20):
        await queue.keep_alive("live", [d.entry for d in live])
        rescued += [d.job_id for d in await queue.reclaim("rescuer", 2)]
        if set(rescued) >= {d.job_id for d in dead}:
            break
    assert {d.job_id for d in dead} <= set(rescued), "every dead worker's entry is reached"
    pending = await redis.xpending_range(keys.stream, GROUP, "-", "+", 100, consumername="live")
    assert len(pending) == 30, "live entries stay with their worker"
