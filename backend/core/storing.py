"""Storing a job, a part of `JobQueue`: in one call with its `accepted` where Redis allows it,
and, when Redis drops the connection after the call was sent, finding out whether it was stored
before the sender is told anything (see `core.outcomes`)."""

from __future__ import annotations

import logging
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core.events import SessionEvents
from backend.core.keys import Keys
from backend.core.loops import patiently
from backend.core.options import JobOptions
from backend.core.outcomes import NotRun, OutcomeUnknown
from backend.core.scripts import queue as scripts
from backend.core.scripts import sessions as session_scripts
from backend.core.scripts.combined import combined, combined_args
from backend.core.turns import Turn
from backend.settings import Settings

log = logging.getLogger("courier.queue")

STORED_NOW = "type(first) == 'table' and first[1] == 1"  # ENQUEUE's {1}: not found already


class Storing:
    redis: Redis
    keys: Keys
    settings: Settings
    events: SessionEvents
    patience: float

    def __init__(self) -> None:
        self._enqueue = self.events.script(scripts.ENQUEUE)
        told = combined(scripts.ENQUEUE, session_scripts.EMIT_JOB, STORED_NOW)
        self._enqueue_told = self.events.script(told)
        # One call stores a job and tells its sender where one script may touch both slots.
        self.in_one_call = not self.events.cluster and not self.settings.redis_wait_replicas

    def _enqueue_call(
        self, job_id: str, options: JobOptions, args: list[Any]
    ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of `ENQUEUE`; `args`: hold, run at, field pairs."""
        keys = self.keys
        dedup = keys.queue_base + "key:" + (options.key or "")
        script_keys = [keys.job(job_id), keys.stats, keys.job_index, keys.delayed]
        script_keys += [keys.scheduled, keys.ready, keys.wake, dedup, *keys.job_tail]
        has_key = "1" if options.key else ""
        script_args = [job_id, *args[:2], options.priority, has_key, keys.queue_base, *args[2:]]
        return script_keys, script_args

    async def _store(self, job_id: str, options: JobOptions, args: list[Any]) -> list[Any]:
        """With COURIER_REDIS_WAIT_REPLICAS, the job is on that many replicas before the sender
        hears `accepted`, so a failover cannot lose it."""
        script_keys, script_args = self._enqueue_call(job_id, options, args)
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

    async def _store_and_tell(
        self,
        job_id: str,
        options: JobOptions,
        args: list[Any],
        session: str,
        accepted: str,
        *,
        turn: Turn | None,
    ) -> None:
        """Stores the job and tells its session `accepted` in one call (see
        `scripts.combined`): it is runnable at once, since no worker can tell of it first."""
        keys, store_args = self._enqueue_call(job_id, options, args)
        told_keys, told_args = self.events.job_call(session, job_id, 0, accepted)
        call = self._enqueue_told(
            keys=[*keys, *told_keys], args=combined_args(keys, store_args, told_args)
        )
        try:
            reply = await (turn.send(call) if turn is not None else call)
        except NotRun:
            raise
        except (RedisError, OSError):
            await self._look_up(job_id)  # stored, so told too: the log has the `accepted`
            await patiently(lambda: self.events.deliver_tail(session), self.patience)
            return
        if len(reply) > 1:  # else the job was there already: a call made again, told then
            await self.events.route(session, reply[1])

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
