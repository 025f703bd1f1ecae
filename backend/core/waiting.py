"""The sets where jobs wait to become runnable, each scored by when: retries (and new jobs
waiting for their `accepted`), delayed jobs, and jobs their task's rate limit held back. Workers
move what is due into the ready set; a part of `Deliveries`."""

from __future__ import annotations

import math
import time
from typing import Any

from redis.asyncio import Redis

from backend.core.events import SessionEvents
from backend.core.keys import Keys
from backend.core.scripts import deliveries as scripts


class WaitingSets:
    redis: Redis
    keys: Keys
    events: SessionEvents

    def __init__(self) -> None:
        self._promote = self.events.script(scripts.PROMOTE)

    @property
    def waiting_sets(self) -> tuple[str, str, str]:
        return (self.keys.delayed, self.keys.scheduled, self.keys.limited)

    async def promote_due(self, limit: int = 100) -> int:
        """Makes due retries, due delayed jobs and jobs whose rate limit has room runnable."""
        moved = 0
        for waiting in self.waiting_sets:
            due: Any = await self.redis.zrangebyscore(
                waiting, "-inf", time.time(), start=0, num=limit
            )
            if due:
                jobs = [self.keys.job(str(job_id)) for job_id in due]
                keys = [waiting, self.keys.ready, self.keys.wake, *jobs, *self.keys.job_tail]
                moved += int(await self._promote(keys=keys, args=[str(j) for j in due]))
        return moved

    async def due_within(self, seconds: float) -> bool:
        return (await self.next_due() or math.inf) < time.time() + seconds

    async def next_due(self) -> float | None:
        """When the next waiting job is due (retry, delayed or rate-limited), if any waits."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for waiting in self.waiting_sets:
                pipe.zrange(waiting, 0, 0, withscores=True)
            firsts = await pipe.execute()
        times = [float(first[0][1]) for first in firsts if first]
        return min(times) if times else None
