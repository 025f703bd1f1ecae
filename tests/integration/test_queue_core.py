"""The queue's Redis side, in-process against a real redis-server (workers in burst mode)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from backend.core.deliveries import Deliveries
from backend.core.keys import Keys
from backend.core.options import JobOptions
from backend.core.queue import GROUP, JobQueue
from backend.core.turns import Turn
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
    again = await queue._store(job_id, JobOptions(), ["", "", *pairs])
    assert again == [0]
    assert await redis.zcard(keys.ready) == 1


async def test_take_over_reaches_dead_entries_behind_live_ones(
    settings: Settings, redis: Redis, keys: Keys
) -> None:
    settings = settings.model_copy(update={"visibility_timeout": 0.05})
    producer, queue = JobQueue(redis, keys, settings), Deliveries(redis, keys, settings)
    await queue.ensure_group()
    for i in range(40):
        await producer.enqueue("uppercase", f"job {i}", {})
    live = [delivery for delivery, _ in await queue.take("live", 30)]
    dead = [delivery for delivery, _ in await queue.take("dead", 10)]
    await asyncio.sleep(0.1)
    rescued: list[str] = []
    for _ in range(20):
        await queue.keep_alive("live", [d.entry for d in live])
        rescued += [d.job_id for d, _ in await queue.take("rescuer", 2, claim=True)]
        if set(rescued) >= {d.job_id for d in dead}:
            break
    assert {d.job_id for d in dead} <= set(rescued), "every dead worker's entry is reached"
    pending = await redis.xpending_range(keys.stream, GROUP, "-", "+", 100, consumername="live")
    assert len(pending) == 30, "live entries stay with their worker"


async def test_a_job_sent_over_a_socket_is_held_until_its_accepted_is_told(
    settings: Settings, redis: Redis, keys: Keys
) -> None:
    """Else a worker taking it at once would tell `accepted` ahead of the replies to the
    session's earlier messages, which are still waiting their turn. On a single Redis the job is
    stored with its `accepted`, in one call made in its turn; on a cluster it is held meanwhile."""
    queue = JobQueue(redis, keys, settings)
    earlier = asyncio.get_running_loop().create_future()  # an earlier message, unanswered
    sending = asyncio.create_task(
        queue.enqueue("uppercase", "x", {}, "session-a", "r1", turn=Turn(earlier))
    )
    await asyncio.sleep(0.2)
    assert await redis.zcard(keys.ready) == 0, "no worker may see it yet"
    assert await redis.zcard(keys.delayed) == (0 if queue.in_one_call else 1)
    earlier.set_result(None)
    job_id = await sending
    assert await redis.zcard(keys.ready) == 1
    assert await redis.zcard(keys.delayed) == 0
    job = await queue.get(job_id)
    assert job is not None and job.status.value == "queued"


async def test_a_held_job_whose_sender_died_is_queued_when_the_hold_ends(
    settings: Settings, redis: Redis, keys: Keys
) -> None:
    queue, deliveries = JobQueue(redis, keys, settings), Deliveries(redis, keys, settings)
    fields = ["id", "orphan", "task", "uppercase", "text", "x", "status", "queued", "created", 1]
    await queue._store("orphan", JobOptions(), [1.0, "", *fields])
    assert await redis.zcard(keys.ready) == 0
    assert await deliveries.promote_due() == 1  # the hold (until 1970) is over
    assert await redis.zcard(keys.ready) == 1
    assert await redis.hget(keys.job("orphan"), "held") is None


async def test_a_job_whose_start_was_lost_is_run_again_not_dropped(
    settings: Settings, redis: Redis, keys: Keys
) -> None:
    """A primary that fails over may lose a worker's START (replication is asynchronous) but
    keep its read: the worker runs the job and finds it still `queued` when it settles. The
    entry must stay pending, so the job is taken over, not acknowledged and forgotten."""
    settings = settings.model_copy(update={"visibility_timeout": 0.05})
    producer, queue = JobQueue(redis, keys, settings), Deliveries(redis, keys, settings)
    await queue.ensure_group()
    job_id = await producer.enqueue("uppercase", "lost start", {})
    [(delivery, started)] = await queue.take("w1", 1)
    assert started is not None
    await redis.hset(keys.job(job_id), "status", "queued")  # what the new primary has
    outcome = queue.succeeded(delivery, "w1", started, "LOST START")
    assert await queue.settle(outcome) == "queued"
    assert (await redis.xpending(keys.stream, GROUP))["pending"] == 1
    await asyncio.sleep(0.05)
    retaken = await queue.take("w2", 10, claim=True)
    assert [d.job_id for d, _ in retaken] == [job_id]
