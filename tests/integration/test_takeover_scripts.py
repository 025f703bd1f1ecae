"""TAKE's take-over and SETTLE's second call, in-process against a real redis-server: a stopped
worker's entries are claimed before the backlog, and an outcome stored once stays stored once."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from backend.core.deliveries import Deliveries
from backend.core.keys import Keys
from backend.core.queue import GROUP, JobQueue
from backend.core.queue_stats import queue_stats
from backend.settings import Settings

pytestmark = pytest.mark.cluster

VISIBILITY = 0.05


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return settings.model_copy(update={"visibility_timeout": VISIBILITY, "retry_backoff": 0.0})


async def backlog(redis: Redis, keys: Keys, settings: Settings, count: int) -> Deliveries:
    producer, queue = JobQueue(redis, keys, settings), Deliveries(redis, keys, settings)
    await queue.ensure_group()
    for i in range(count):
        await producer.enqueue("uppercase", f"job {i}", {})
    return queue


async def test_a_stopped_workers_entries_are_taken_before_the_backlog(
    quick: Settings, redis: Redis, keys: Keys
) -> None:
    queue = await backlog(redis, keys, quick, 10)
    held = [delivery for delivery, _ in await queue.take("stopped", 3)]
    live = [delivery for delivery, _ in await queue.take("live", 2)]
    await asyncio.sleep(VISIBILITY * 2)
    await queue.keep_alive("live", [d.entry for d in live])

    assert await queue.take("busy", 1) != [], "without the claim flag: the backlog"
    taken = await queue.take("rescuer", 4, claim=True)
    assert [d.job_id for d, _ in taken[:3]] == [d.job_id for d in held], "claimed first"
    assert [(s.attempt, s.runs) for _, s in taken[:3] if s] == [(2, 2)] * 3
    assert len(taken) == 4, "the free slot left takes from the backlog"
    assert await redis.zcard(keys.ready) == 10 - 3 - 2 - 1 - 1
    assert (await queue_stats(redis, keys)).taken_over == 3
    by_live = await redis.xpending_range(keys.stream, GROUP, "-", "+", 10, consumername="live")
    assert len(by_live) == 2, "a live worker's entries are not claimed"
    job = await redis.hgetall(keys.job(held[0].job_id))
    assert (job["worker"], job["status"], job["runs"]) == ("rescuer", "running", "2")


async def test_nothing_idle_means_the_claim_costs_only_a_look(
    quick: Settings, redis: Redis, keys: Keys
) -> None:
    queue = await backlog(redis, keys, quick, 3)
    taken = await queue.take("w1", 3, claim=True)
    assert [s.attempt for _, s in taken if s] == [1, 1, 1]
    assert (await queue_stats(redis, keys)).taken_over == 0


async def test_a_second_settle_changes_nothing(quick: Settings, redis: Redis, keys: Keys) -> None:
    """A settle whose reply was lost (Redis restarted) is sent again: the outcome is stored
    once and replied again, so it is told."""
    queue = await backlog(redis, keys, quick, 1)
    [(delivery, started)] = await queue.take("w1", 1)
    assert started is not None
    outcome = queue.succeeded(delivery, "w1", started, "JOB 0")
    assert await queue.settle(outcome) == "succeeded"
    assert await queue.settle(outcome) == "succeeded"
    stats = await queue_stats(redis, keys)
    assert (stats.succeeded, stats.in_flight, stats.taken_over) == (1, 0, 0)
    assert await redis.llen(keys.latencies) == 1


async def test_a_late_settle_leaves_the_next_attempt_alone(
    quick: Settings, redis: Redis, keys: Keys
) -> None:
    """The first attempt's outcome (a retry) is stored; its settle comes again while the retry
    runs on another worker: the running attempt is not touched."""
    queue = await backlog(redis, keys, quick, 1)
    [(first, started)] = await queue.take("w1", 1)
    assert started is not None
    outcome = queue.failed(first, started, "boom")
    assert await queue.settle(outcome) == "retry"
    await asyncio.sleep(0.01)
    assert await queue.promote_due() == 1
    [(second, again)] = await queue.take("w2", 1)
    assert again is not None and again.attempt == 2
    assert await queue.settle(outcome) == "retry", "replied again, stored once"
    job = await redis.hgetall(keys.job(second.job_id))
    assert (job["status"], job["worker"], job["attempts"]) == ("running", "w2", "2")
    assert (await queue_stats(redis, keys)).failed == 1
    final = queue.succeeded(second, "w2", again, "JOB 0")
    assert await queue.settle(final) == "succeeded"


async def test_a_settle_after_a_take_over_stores_the_first_outcome_only(
    quick: Settings, redis: Redis, keys: Keys
) -> None:
    """A worker that stalled past the visibility timeout and the one that took its job over
    both finish: one outcome is stored, the other settle is acknowledged and dropped."""
    queue = await backlog(redis, keys, quick, 1)
    [(delivery, slow)] = await queue.take("stalled", 1)
    await asyncio.sleep(VISIBILITY * 2)
    [(claimed, rerun)] = await queue.take("rescuer", 1, claim=True)
    assert slow is not None and rerun is not None and claimed == delivery
    assert await queue.settle(queue.succeeded(delivery, "stalled", slow, "first")) == "succeeded"
    assert await queue.settle(queue.succeeded(claimed, "rescuer", rerun, "second")) == "succeeded"
    assert await redis.hget(keys.job(delivery.job_id), "result") == '"first"'
    stats = await queue_stats(redis, keys)
    assert (stats.succeeded, stats.taken_over, stats.in_flight) == (1, 1, 0)
