"""Cancelling a job, a part of `JobQueue`: it must tell the job's session its end exactly once,
also when Redis drops the call halfway."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core import job_events
from backend.core.events import SessionEvents
from backend.core.jobs import JobStatus
from backend.core.keys import Keys
from backend.core.loops import patiently
from backend.core.outcomes import NotRun
from backend.core.scripts import queue as scripts
from backend.core.turns import Turn
from backend.settings import Settings


class CancelOutcome(BaseModel):
    cancelled: bool
    status: JobStatus | None  # None: no such job (or not the caller's)


class Cancels:
    redis: Redis
    keys: Keys
    settings: Settings
    events: SessionEvents

    def __init__(self) -> None:
        self._cancel = self.events.script(scripts.CANCEL)

    async def cancel(
        self, job_id: str, session: str = "", turn: Turn | None = None
    ) -> CancelOutcome:
        """Cancels a queued, waiting or running job; `session` limits it to that session's jobs.
        The job's own session is told, whoever cancelled it."""
        waiting = [self.keys.delayed, self.keys.scheduled, self.keys.limited, self.keys.ready]
        keys = [self.keys.job(job_id), *waiting, self.keys.stats, *self.keys.job_tail]
        args: list[str | float] = [job_id, session, time.time(), self.keys.control]
        wait = self.settings.outcome_wait
        try:
            reply = await self._cancel(keys=keys, args=args)
        except NotRun:
            raise
        except (RedisError, OSError):
            # Done again once Redis answers: if the lost call had cancelled it, it is final now.
            reply = await patiently(lambda: self._cancel(keys=keys, args=args), wait)
            if reply[0] == "final" and reply[1] == JobStatus.CANCELLED.value:
                reply = await self._cancelled_reply(job_id)
        if reply[0] == "missing":
            return CancelOutcome(cancelled=False, status=None)
        if reply[0] == "final":
            return CancelOutcome(cancelled=False, status=JobStatus(reply[1]))
        _, _, owner, ref, runs = reply
        end = job_events.step(int(runs), job_events.END)
        first = job_events.accepted(job_id, json.loads(ref))
        body = job_events.cancelled(job_id)
        telling = self.events.emit_job(
            owner, job_id, end, body, final=True, first=first, patience=wait
        )
        await (turn.send(telling) if turn is not None else telling)
        return CancelOutcome(cancelled=True, status=JobStatus.CANCELLED)

    async def _cancelled_reply(self, job_id: str) -> list[Any]:
        """CANCEL's reply for a job that a call whose reply was lost had cancelled."""
        fields = ("session", "ref", "runs")
        owner, ref, runs = await self.redis.hmget(self.keys.job(job_id), fields)
        return ["cancelled", JobStatus.CANCELLED.value, owner or "", ref or "null", runs or 0]
