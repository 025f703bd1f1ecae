"""The dead-letter set as operators work it: list, retry with fresh attempts, discard. A part of
`JobQueue`, kept apart because it is an operator's view, not a producer's."""

from __future__ import annotations

import asyncio
from typing import cast

from redis.asyncio import Redis

from backend.core.browse import load_jobs
from backend.core.events import SessionEvents
from backend.core.jobs import Job
from backend.core.keys import Keys
from backend.core.scripts import queue as scripts


class DeadLetters:
    redis: Redis
    keys: Keys
    events: SessionEvents

    def __init__(self) -> None:
        self._revive = self.events.script(scripts.REVIVE)

    async def dead_jobs(self, limit: int = 100) -> list[Job]:
        return await load_jobs(self.redis, self.keys, await self.dead_ids(limit))

    async def dead_ids(self, limit: int) -> list[str]:
        """The newest `limit` dead letters' ids."""
        return cast(list[str], await self.redis.zrevrange(self.keys.dead, 0, limit - 1))

    async def retry_dead(self, job_id: str) -> bool:
        """Back into the queue with fresh attempts; False when it is not in the dead-letter set.
        Its session, if still around, hears the job's events again from the start."""
        keys = [self.keys.job(job_id), self.keys.dead, self.keys.ready, self.keys.wake]
        keys += self.keys.job_tail
        reply = await self._revive(keys=keys, args=[job_id])
        if int(reply[0]) != 1:
            return False
        await self.events.forget(str(reply[1]), job_id)
        return True

    async def retry_dead_many(self, ids: list[str]) -> list[str]:
        """Those of `ids` put back in the queue (one pipelined batch of script calls)."""
        revived = await asyncio.gather(*(self.retry_dead(job_id) for job_id in ids))
        return [job_id for job_id, done in zip(ids, revived, strict=True) if done]

    async def discard_dead(self, job_id: str) -> bool:
        return bool(await self.discard_dead_many([job_id]))

    async def discard_dead_many(self, ids: list[str]) -> list[str]:
        """Those of `ids` removed from the dead-letter set and deleted, in one transaction."""
        if not ids:
            return []
        async with self.redis.pipeline(transaction=True) as pipe:
            for job_id in ids:
                pipe.zrem(self.keys.dead, job_id)
                pipe.delete(self.keys.job(job_id))
            replies = await pipe.execute()
        done = [job_id for job_id, removed in zip(ids, replies[::2], strict=True) if removed]
        await announce(self.redis, self.keys, done, "discarded")
        return done


async def announce(redis: Redis, keys: Keys, ids: list[str], status: str) -> None:
    """Tells watching job consoles about changes made outside the job scripts."""
    if ids and await redis.exists(keys.job_feed):
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.publish(keys.job_feed, f"{job_id} {status}")
            await pipe.execute()
