"""The job queue as producers and operators see it: enqueue, look up, cancel, counters and the
dead-letter set. Runnable jobs wait in a sorted set ranked by priority and arrival; a worker
takes them through a Redis Stream read by one consumer group, which tracks each until it is
settled (the workers' side is `backend.core.deliveries`). Each job's state is a hash of its own."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core import job_events
from backend.core.cancels import CancelOutcome, Cancels
from backend.core.dead_letters import DeadLetters
from backend.core.events import SessionEvents
from backend.core.jobs import Job, JobStatus
from backend.core.keys import Keys
from backend.core.loops import patiently
from backend.core.options import JobOptions
from backend.core.outcomes import NotRun, OutcomeUnknown
from backend.core.queue_stats import GROUP, QueueStats, ensure_group, queue_depth, queue_stats
from backend.core.scripts import deliveries as delivery_scripts
from backend.core.scripts import queue as scripts
from backend.core.turns import Turn
from backend.settings import Settings

HOLD_SECONDS = 5.0  # a new job waits at most this long for its `accepted` to be told

log = logging.getLogger("courier.queue")


@dataclass(frozen=True)
class Enqueued:
    id: str
    status: JobStatus = JobStatus.QUEUED  # of the earlier job, for a duplicate
    duplicate: bool = False  # an earlier job had the same key: `id` is that job's
    run_at: float | None = None  # when a delayed job may start


class JobQueue(DeadLetters, Cancels):
    def __init__(
        self, redis: Redis, keys: Keys, settings: Settings, events: SessionEvents | None = None
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        # Sharing the web process's SessionEvents keeps one script pipeline per process, so a
        # session's requests reach Redis in the order they were made.
        self.events = events or SessionEvents(redis, keys, settings)
        self.patience = settings.outcome_wait  # a stored job's sender must hear `accepted`
        script = self.events.script
        self._enqueue = script(scripts.ENQUEUE)
        self._promote = script(delivery_scripts.PROMOTE)
        DeadLetters.__init__(self)
        Cancels.__init__(self)

    async def submit(
        self,
        task: str,
        text: str,
        args: dict[str, Any],
        session: str = "",
        ref: str | int | None = None,
        *,
        turn: Turn | None = None,
        options: JobOptions | None = None,
        owner: str | None = None,
    ) -> Enqueued:
        """Stores the job as `options` ask and queues it, then tells the session `accepted`.

        Two steps in two hash slots (the queue's, then the session's). A job sent over a socket is
        held until its `accepted` is told, so the replies keep the order of the messages. Should
        this process die in between, the job is queued when the hold ends, and the first event a
        worker sends for it carries the `accepted` first (`EMIT_JOB`). `owner` (by default the
        session) is who may read and cancel it."""
        options = options or JobOptions()
        job_id, run_at = uuid.uuid4().hex, options.run_at()
        fields = self._new_job(job_id, task, text, args, session=session, ref=ref)
        fields |= {"owner": session if owner is None else owner}
        fields |= {"timeout": options.timeout} if options.timeout is not None else {}
        # Held while earlier messages of the session may still be unanswered: a worker that
        # took the job at once would tell its `accepted` ahead of their replies.
        hold = "" if turn is None or run_at is not None else time.time() + HOLD_SECONDS
        reply = await self._store_or_look_up(job_id, options, [hold, run_at or "", *_pairs(fields)])
        if reply[0] == "duplicate":
            _, first, status, first_run_at = reply
            found = Enqueued(first, JobStatus(status), duplicate=True, run_at=_number(first_run_at))
            return await self._duplicate(found, session, ref, turn)
        accepted = job_events.accepted(job_id, ref, run_at)
        telling = self.events.emit_job(session, job_id, 0, accepted, patience=self.patience)
        await (turn.send(telling) if turn is not None else telling)
        if hold:
            promote = [self.keys.delayed, self.keys.ready, self.keys.wake, self.keys.job(job_id)]
            with contextlib.suppress(RedisError, OSError):  # else it runs when the hold ends
                await self._promote(keys=[*promote, *self.keys.job_tail], args=[job_id])
        return Enqueued(job_id, run_at=run_at)

    async def _store_or_look_up(
        self, job_id: str, options: JobOptions, args: list[Any]
    ) -> list[Any]:
        try:
            return await self._store(job_id, options, args)
        except NotRun:
            raise
        except (RedisError, OSError):
            return await self._look_up(job_id)

    async def _look_up(self, job_id: str) -> list[Any]:
        """The store's reply was lost, and Redis may have run it: the job is looked up by its id
        once Redis answers, so that the sender hears the truth (`ENQUEUE`'s reply if stored)."""
        wait = self.settings.outcome_wait
        try:
            stored = await patiently(lambda: self.redis.exists(self.keys.job(job_id)), wait)
        except (RedisError, OSError) as exc:
            raise OutcomeUnknown(f"storing job {job_id}", wait, job_id) from exc
        if not stored:
            raise NotRun(f"Redis went away before it stored job {job_id}")
        log.info("job %s was stored, though Redis went away before saying so", job_id)
        return [1]

    async def _duplicate(
        self, found: Enqueued, session: str, ref: str | int | None, turn: Turn | None
    ) -> Enqueued:
        """Answers a send whose key an earlier job holds: that job's id, and nothing runs."""
        if session:
            body = job_events.accepted_event(found.id, ref, found.run_at, duplicate=True)
            reply_id = turn.id if turn is not None else uuid.uuid4().hex
            wait = self.settings.outcome_wait
            telling = self.events.reply(session, reply_id, body, patience=wait)
            await (turn.send(telling) if turn is not None else telling)
        return found

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
        """`submit` with the default options; the new job's id."""
        return (await self.submit(task, text, args, session, ref, turn=turn)).id

    async def _store(self, job_id: str, options: JobOptions, args: list[Any]) -> list[Any]:
        """With COURIER_REDIS_WAIT_REPLICAS, the job is on that many replicas before the sender
        hears `accepted`, so a failover cannot lose it."""
        keys = self.keys
        dedup = keys.queue_base + "key:" + (options.key or "")
        script_keys = [keys.job(job_id), keys.stats, keys.job_index, keys.delayed]
        script_keys += [keys.scheduled, keys.ready, keys.wake, dedup, *keys.job_tail]
        has_key = "1" if options.key else ""
        script_args = [job_id, *args[:2], options.priority, has_key, keys.queue_base, *args[2:]]
        replicas = self.settings.redis_wait_replicas
        if not replicas:
            return cast(list[Any], await self._enqueue(keys=script_keys, args=script_args))
        wait = self.settings.redis_wait_timeout
        reply, acknowledged = await self.events.pipeline.run_replicated(
            self._enqueue, script_keys, script_args, replicas, int(wait * 1000)
        )
        if acknowledged < replicas:
            log.warning(
                "job %s reached %d of %d replicas within %gs", job_id, acknowledged, replicas, wait
            )
        return cast(list[Any], reply)

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

    async def stats(self) -> QueueStats:
        return await queue_stats(self.redis, self.keys)


__all__ = ["GROUP", "CancelOutcome", "JobQueue", "QueueStats", "ensure_group", "queue_depth"]


def _pairs(fields: dict[str, Any]) -> list[Any]:
    return [item for pair in fields.items() for item in pair]


def _number(text: str | None) -> float | None:
    return float(text) if text else None
