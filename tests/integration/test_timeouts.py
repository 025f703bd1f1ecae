"""Time limits with a real worker process: an attempt that overruns is stopped at its limit,
fails with a `timeout:` error and is retried; a sync task's process is really killed."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from redis.asyncio import Redis

from backend.core.jobs import Job, JobStatus
from backend.core.keys import Keys
from backend.core.queue import JobQueue
from backend.settings import Settings
from tests.processes import Stack

pytestmark = pytest.mark.slow

LIMITS = {
    "tasks": "tests.sample.slow_tasks",  # `nap` has a limit of its own, 0.4 s; `nap_sync` none
    "job_timeout": "0.6",
    "max_attempts": "2",
    "retry_backoff": "0.05",
    "worker_concurrency": "2",
}


@pytest.fixture
def limited(stack: Stack) -> Stack:
    stack.settings.update(LIMITS)
    stack.worker()
    return stack


@pytest.fixture
def queue(settings: Settings, redis: Redis, keys: Keys) -> JobQueue:
    return JobQueue(redis, keys, settings.model_copy(update={"max_attempts": 2}))


async def final(queue: JobQueue, job_id: str, within: float = 15.0) -> Job:
    for _ in range(int(within / 0.05)):
        job = await queue.get(job_id)
        if job is not None and job.status.is_final:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish within {within:g}s")


def traced(folder: Path, event: str) -> list[int]:
    """The pids of the naps that reached `event` (`started` or `woke`)."""
    return [int(path.stem) for path in folder.glob(f"*.{event}")]


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_an_overrunning_async_task_is_stopped_at_its_own_limit_and_retried(
    limited: Stack, queue: JobQueue
) -> None:
    job = await final(queue, await queue.enqueue("nap", "x", {"seconds": 30}))
    assert (job.status, job.attempts) == (JobStatus.DEAD, 2)
    stopped = "timeout: the attempt ran longer than 0.4s and was stopped"
    assert [(e.attempt, e.error) for e in job.errors] == [(1, stopped), (2, stopped)]


async def test_an_overrunning_sync_task_is_killed_at_the_default_limit_and_retried(
    limited: Stack, queue: JobQueue, tmp_path: Path
) -> None:
    nap = await queue.enqueue("nap_sync", "x", {"seconds": 3, "trace": str(tmp_path)})
    beside = await queue.enqueue("shout_sync", "beside", {})
    job = await final(queue, nap)
    assert (job.status, job.attempts) == (JobStatus.DEAD, 2)
    stopped = "timeout: the attempt ran longer than 0.6s and was stopped"
    assert [(e.attempt, e.error) for e in job.errors] == [(1, stopped), (2, stopped)]
    pids = traced(tmp_path, "started")
    assert len(pids) == 2, "each attempt ran in a process of its own"
    for _ in range(50):  # the forkserver reaps a killed process within moments
        if not any(is_alive(pid) for pid in pids):
            break
        await asyncio.sleep(0.02)
    assert not any(is_alive(pid) for pid in pids), "both processes were killed"
    assert not traced(tmp_path, "woke"), "no attempt ran on after its limit"
    other = await final(queue, beside)
    assert (other.status, other.result) == (JobStatus.SUCCEEDED, "BESIDE")
