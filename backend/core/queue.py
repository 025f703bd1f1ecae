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
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core import job_events
from backend.core.cancels import CancelOutcome, Cancels
from backend.core.dead_letters import DeadLetters
from backend.core.events import SessionEvents
from backend.core.jobs import Job, JobStatus
from backend.core.keys import Keys
from backend.core.options import JobOptions
from backend.core.queue_stats import GROUP, QueueStats, ensure_group, queue_depth, queue_stats
from backend.core.scripts import deliveries as delivery_scripts
from backend.core.storing import Storing
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


class JobQueue(Storing, DeadLetters, Cancels):
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
        self._promote = script(delivery_scripts.PROMOTE)
        Storing.__init__(self)
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
        """Stores the job as `options` ask, and tells the session `accepted`: in one call on a
        single Redis (`Storing`), else in two steps in two slots, with a socket's job held until
        its `accepted` is told (replies keep the order of the messages; should this process die
        in between, the hold ends, and the worker's first event carries the `accepted` first).
        `owner` (by default the session) is who may read and cancel it."""
        options = options or JobOptions()
        job_id, run_at = uuid.uuid4().hex, options.run_at()
        fields = self._new_job(job_id, task, text, args, session=session, ref=ref)
        fields |= {"owner": session if owner is None else owner}
        fields |= {"timeout": options.timeout} if options.timeout is not None else {}
        accepted = job_events.accepted(job_id, ref, run_at)
        if session and self.in_one_call and not options.key:
            stored = ["", run_at or "", *_pairs(fields)]
            await self._store_and_tell(job_id, options, stored, session, accepted, turn=turn)
            return Enqueued(job_id, run_at=run_at)
        # Held while earlier messages of the session may still be unanswered: a worker that
        # took the job at once would tell its `accepted` ahead of their replies.
        hold = "" if turn is None or run_at is not None else time.time() + HOLD_SECONDS
        reply = await self._store_or_look_up(job_id, options, [hold, run_at or "", *_pairs(fields)])
        if reply[0] == "duplicate":
            _, first, status, first_run_at = reply
            found = Enqueued(first, JobStatus(status), duplicate=True, run_at=_number(first_run_at))
            return await self._duplicate(found, session, ref, turn)
        telling = self.events.emit_job(session, job_id, 0, accepted, patience=self.patience)
        await (turn.send(telling) if turn is not None else telling)
        if hold:
            await self._release_hold(job_id)
        return Enqueued(job_id, run_at=run_at)

    async def _release_hold(self, job_id: str) -> None:
        promote = [self.keys.delayed, self.keys.ready, self.keys.wake, self.keys.job(job_id)]
        with contextlib.suppress(RedisError, OSError):  # else it runs when the hold ends
            await self._promote(keys=[*promote, *self.keys.job_tail], args=[job_id])

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
