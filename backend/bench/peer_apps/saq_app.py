"""SAQ: the uppercase job, its worker settings, and the producer's side: `Queue.apply`, which
enqueues the job and polls its status until it is done, every 0.5 s by default; tuned, every
10 ms (`poll_interval`, as SAQ's README shows), with more jobs at once in the worker.

`enqueue` then `Job.refresh(until_complete)` waits on pub/sub instead, but SAQ 0.26 reads the
job before it subscribes, and closes its subscription whenever nothing listens: one job at a
time, about 1 in 100 completions slipped between the two and waited out the whole timeout."""

from __future__ import annotations

import os
from typing import Any

from saq import Queue

TUNED = os.environ.get("PEER_TUNED") == "1"
PACKAGES = ("saq", "redis", "hiredis")
CONCURRENCY = 100 if TUNED else 10  # jobs a worker runs at once (10 by default)
POLL_INTERVAL = 0.01 if TUNED else 0.5


async def uppercase(ctx: dict[str, Any] | None, *, text: str) -> str:
    return text.upper()


queue = Queue.from_url(os.environ.get("PEER_REDIS_URL", "redis://"))
settings = {"queue": queue, "functions": [uppercase], "concurrency": CONCURRENCY}


class Producer:
    """`apply` enqueues and waits in one call: `submit` keeps the text, `wait` makes the call."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    async def ready(self) -> bool:
        """The worker has registered itself, and its first sweep, which aborts any job it finds
        taken but not yet marked active (as a job sent during its start-up), is done."""
        info = await self.queue.info()
        return bool(info["workers"]) and bool(
            await self.queue.redis.exists(self.queue.namespace("sweep"))
        )

    async def submit(self, text: str) -> str:
        return text

    async def wait(self, text: str, seconds: float) -> str:
        result = await self.queue.apply(
            "uppercase", timeout=int(seconds) + 1, poll_interval=POLL_INTERVAL, text=text
        )
        return str(result)

    async def close(self) -> None:
        await self.queue.disconnect()


async def producer(url: str) -> Producer:
    own = Queue.from_url(url)
    await own.connect()
    return Producer(own)
