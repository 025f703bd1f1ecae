"""arq: the uppercase job, its worker settings (defaults, or its documented tuning), and the
producer's side: `enqueue_job`, then `Job.result`, which polls Redis for the result."""

from __future__ import annotations

import os
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import default_queue_name, health_check_key_suffix
from arq.jobs import Job

TUNED = os.environ.get("PEER_TUNED") == "1"
PACKAGES = ("arq", "redis", "hiredis")
# The tuning arq's documentation names: jobs run at once, and how often the queue and a result
# are polled (both 0.5 s by default).
MAX_JOBS = 100 if TUNED else 10
POLL_DELAY = 0.01 if TUNED else 0.5
# Warnings only, as every system in the bench logs: arq logs two lines per job at INFO.
QUIET_LOGS = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}


async def uppercase(ctx: dict[str, Any], text: str) -> str:
    return text.upper()


class WorkerSettings:
    functions = (uppercase,)
    redis_settings = RedisSettings.from_dsn(os.environ.get("PEER_REDIS_URL", "redis://"))
    max_jobs = MAX_JOBS
    poll_delay = POLL_DELAY


class Producer:
    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool

    async def submit(self, text: str) -> Job:
        job = await self.pool.enqueue_job("uppercase", text)
        if job is None:
            raise RuntimeError("enqueue_job returned None")
        return job

    async def ready(self) -> bool:
        """The worker writes its health check key when it starts polling."""
        return bool(await self.pool.exists(default_queue_name + health_check_key_suffix))

    async def wait(self, job: Job, seconds: float) -> str:
        return str(await job.result(timeout=seconds, poll_delay=POLL_DELAY))

    async def close(self) -> None:
        await self.pool.aclose()


async def producer(url: str) -> Producer:
    return Producer(await create_pool(RedisSettings.from_dsn(url)))
