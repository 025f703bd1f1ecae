"""The job queue as producers and operators see it: enqueue, look up, cancel, counters and the
dead-letter set. Jobs wait in a Redis Stream read by one consumer group (the workers' side is
`backend.core.deliveries`), with each job's state in a hash of its own."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, cast

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from backend.core import job_events
from backend.core.browse import load_jobs
from backend.core.events import SessionEvents, Turn
from backend.core.jobs import Job, JobStatus
from backend.core.keys import Keys
from backend.core.scripts import deliveries as delivery_scripts
from backend.core.scripts import queue as scripts
from backend.settings import Settings

GROUP = "workers"
HOLD_SECONDS = 5.0  # a new job waits at most this long for its `accepted` to be told

log = logging.getLogger("courier.queue")


class QueueStats(BaseModel):
    depth: int = Field(description="Jobs waiting for a worker")
    in_flight: int = Field(description="Jobs a worker holds")
    delayed: int = Field(description="Failed attempts waiting for their retry")
    dead: int = Field(description="Jobs in the dead-letter set")
    enqueued: int
    succeeded: int
    failed: int = Field(description="Failed attempts (retried or not)")
    cancelled: int


class CancelOutcome(BaseModel):
    cancelled: bool
    status: JobStatus | None  # None: no such job (or not the caller's)


class JobQueue:
    def __init__(
        self, redis: Redis, keys: Keys, settings: Settings, events: SessionEvents | None = None
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        # Sharing the web process's SessionEvents keeps one script pipeline per process, so a
        # session's requests reach Redis in the order they were made.
        self.events = events or SessionEvents(redis, keys, settings)
        script = self.events.script
        self._enqueue = script(scripts.ENQUEUE)
        self._cancel = script(scripts.CANCEL)
        self._revive = script(scripts.REVIVE)
        self._promote = script(delivery_scripts.PROMOTE)

    async def enqueue(
        self,
        task: str,
        text: str,
        args: dict[str, Any],
        session: str = "",
        ref: str | int | None = None,
        *,
        turn: Turn | None = None,
    ) -> str:
        """Stores the job and queues it, then tells the session `accepted`; returns its id.

        Two steps in two hash slots (the queue's, then the session's). A job sent over a socket
        is held until its `accepted` is told, so the replies keep the order of the messages.
        Should this process die in between, the job is queued when the hold ends, and the
        first event a worker sends for it carries the `accepted` first (`EMIT_JOB`)."""
        job_id = uuid.uuid4().hex
        fields = self._new_job(job_id, task, text, args, session=session, ref=ref)
        pairs = [item for pair in fields.items() for item in pair]
        keys = [self.keys.job(job_id), self.keys.stream, self.keys.stats, self.keys.job_index]
        # Held while earlier messages of the session may still be unanswered: a worker that
        # took the job at once would tell its `accepted` ahead of their replies.
        hold = "" if turn is None else time.time() + HOLD_SECONDS
        keys = [*keys, self.keys.delayed, *self.keys.job_tail]
        await self._store(job_id, keys, [job_id, hold, *pairs])
        telling = self.events.emit_job(session, job_id, 0, job_events.accepted(job_id, ref))
        await (turn.send(telling) if turn is not None else telling)
        if turn is not None:
            promote = [self.keys.delayed, self.keys.stream, self.keys.job(job_id)]
            await self._promote(keys=[*promote, *self.keys.job_tail], args=[job_id])
        return job_id

    async def _store(self, job_id: str, keys: list[str], args: list[str | int | float]) -> None:
        """With COURIER_REDIS_WAIT_REPLICAS, the job is on that many replicas before the sender
        hears `accepted`, so a failover cannot lose it."""
        replicas = self.settings.redis_wait_replicas
        if not replicas:
            await self._enqueue(keys=keys, args=args)
            return
        wait = self.settings.redis_wait_timeout
        _, acknowledged = await self.events.pipeline.run_replicated(
            self._enqueue, keys, args, replicas, int(wait * 1000)
        )
        if acknowledged < replicas:
            log.warning(
                "job %s reached %d of %d replicas within %gs", job_id, acknowledged, replicas, wait
            )

    def _new_job(
        self,
        job_id: str,
        task: str,
        text: str,
        args: dict[str, Any],
        *,
        session: str,
        ref: str | int | None,
    ) -> dict[str, str | int | float]:
        """The job's hash as it is first stored."""
        return {
            "id": job_id,
            "task": task,
            "text": text,
            "args": json.dumps(args, separators=(",", ":")),
            "session": session,
            "ref": json.dumps(ref),
            "status": JobStatus.QUEUED.value,
            "attempts": 0,
            "max_attempts": self.settings.max_attempts,
            "retention": self.settings.job_retention,
            "created": time.time(),
        }

    async def get(self, job_id: str) -> Job | None:
        row: Any = await self.redis.hgetall(self.keys.job(job_id))
        return Job.from_hash(row) if row else None

    async def cancel(
        self, job_id: str, session: str = "", turn: Turn | None = None
    ) -> CancelOutcome:
        """Cancels a queued, waiting or running job; `session` limits it to that session's jobs.
        The job's own session is told, whoever cancelled it."""
        reply = await self._cancel(
            keys=[self.keys.job(job_id), self.keys.delayed, self.keys.stats, *self.keys.job_tail],
            args=[job_id, session, time.time(), self.keys.control],
        )
        if reply[0] == "missing":
            return CancelOutcome(cancelled=False, status=None)
        if reply[0] == "final":
            return CancelOutcome(cancelled=False, status=JobStatus(reply[1]))
        _, _, owner, ref, runs = reply
        end = job_events.step(int(runs), job_events.END)
        first = job_events.accepted(job_id, json.loads(ref))
        body = job_events.cancelled(job_id)
        telling = self.events.emit_job(owner, job_id, end, body, final=True, first=first)
        await (turn.send(telling) if turn is not None else telling)
        return CancelOutcome(cancelled=True, status=JobStatus.CANCELLED)

    async def stats(self) -> QueueStats:
        depth, in_flight = await queue_depth(self.redis, self.keys)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self.keys.delayed)
            pipe.zcard(self.keys.dead)
            pipe.hgetall(self.keys.stats)
            delayed, dead, counters = await pipe.execute()
        return QueueStats(
            depth=depth,
            in_flight=in_flight,
            delayed=int(delayed),
            dead=int(dead),
            **{k: int(counters.get(k, 0)) for k in ("enqueued", "succeeded", "failed")},
            cancelled=int(counters.get("cancelled", 0)),
        )

    async def dead_jobs(self, limit: int = 100) -> list[Job]:
        return await load_jobs(self.redis, self.keys, await self.dead_ids(limit))

    async def dead_ids(self, limit: int) -> list[str]:
        """The newest `limit` dead letters' ids."""
        return cast(list[str], await self.redis.zrevrange(self.keys.dead, 0, limit - 1))

    async def retry_dead(self, job_id: str) -> bool:
        """Back into the queue with fresh attempts; False when it is not in the dead-letter set.
        Its session, if still around, hears the job's events again from the start."""
        keys = [self.keys.job(job_id), self.keys.dead, self.keys.stream, *self.keys.job_tail]
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


async def queue_depth(redis: Redis, keys: Keys) -> tuple[int, int]:
    """Jobs waiting for a worker, and jobs a worker holds."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xlen(keys.stream)
        pipe.xinfo_groups(keys.stream)
        replies = await pipe.execute(raise_on_error=False)
    length = replies[0] if isinstance(replies[0], int) else 0
    groups = replies[1] if isinstance(replies[1], list) else []
    in_flight = sum(int(g.get("pending", 0)) for g in groups)
    return max(0, length - in_flight), in_flight


async def ensure_group(redis: Redis, keys: Keys) -> None:
    """The workers' consumer group (and the stream), created if Redis has none yet."""
    try:
        await redis.xgroup_create(keys.stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
