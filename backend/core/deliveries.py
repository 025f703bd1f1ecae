"""The worker's side of the queue: taking jobs, starting them, storing their outcome.

Guarantees, and where they come from:
- each job goes to one worker at a time: TAKE pops it from the ready set and delivers its
  stream entry to that worker alone, in one script;
- nothing is lost: an entry stays pending until the script that stores the outcome acknowledges
  it, and a pending entry whose worker stopped renewing it is taken over (XAUTOCLAIM, in TAKE)
  after the visibility timeout, ahead of the ready set;
- failures are retried with exponential backoff from a delay set, then dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis

from backend.core import job_events
from backend.core.attempts import Delivery, Outcome, Started, started_from
from backend.core.events import SessionEvents
from backend.core.keys import Keys
from backend.core.queue import GROUP, ensure_group
from backend.core.rates import rate_args, task_rates
from backend.core.scripts import deliveries as scripts
from backend.core.scripts import sessions as session_scripts
from backend.core.scripts import taking
from backend.core.scripts.combined import combined, combined_args
from backend.core.tasks import TaskRegistry
from backend.core.waiting import WaitingSets
from backend.settings import Settings

log = logging.getLogger("courier.deliveries")


class Deliveries(WaitingSets):
    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.events = SessionEvents(redis, keys, settings)
        script = self.events.script
        self._take = script(taking.TAKE)
        # (task, limit, period) of each rate-limited task, as TAKE's arguments
        self.rate_args: list[str | int | float] = []
        self._settle = script(scripts.SETTLE)
        # On a single Redis an outcome is stored and told in one call (see `scripts.combined`).
        told = combined(scripts.SETTLE, session_scripts.EMIT_JOB, "first == A[5]")
        self._settle_told = script(told) if not self.events.cluster else None
        self._release = script(scripts.RELEASE)
        self._progress = script(scripts.PROGRESS)
        self.cursor = "0-0"  # where the next take-over check walks the pending list on from
        self.more_to_claim = False
        self.telling: set[asyncio.Task[None]] = set()
        super().__init__()

    async def ensure_group(self) -> None:
        await ensure_group(self.redis, self.keys)

    async def take(
        self, consumer: str, count: int, claim: bool = False
    ) -> list[tuple[Delivery, Started | None]]:
        """Up to `count` jobs, each already started (None for one with nothing to run): with
        `claim`, first those a stopped worker held past the visibility timeout, then the
        runnable ones, highest priority first; jobs over their task's rate limit are held back,
        not taken."""
        keys = self.keys
        idle_ms = max(1, int(self.settings.visibility_timeout * 1000)) if claim else 0
        args: list[str | int | float] = [GROUP, consumer, time.time(), count, keys.queue_base]
        reply: Any = await self._take(
            keys=[keys.stream, keys.ready, keys.limited, keys.dead, keys.stats, *keys.job_tail],
            args=[*args, idle_ms, self.cursor, *self.rate_args],
        )
        self.cursor = str(reply[0])
        taken, claimed = [], 0
        for entry, job_id, row, taken_over in reply[1]:
            delivery = Delivery(str(entry), str(job_id))
            if taken_over:
                claimed += 1
                log.warning("taking over job %s from a worker that stopped", delivery.job_id)
            self._tell_start(delivery.job_id, consumer, row)
            taken.append((delivery, started_from(row)))
        # Every slot went to a stopped worker's entry: there may be more, and they go before
        # the backlog at the next take, not after the next claim interval.
        self.more_to_claim = claim and claimed >= count
        return taken

    async def wait_for_work(self, seconds: float) -> bool:
        """Blocks until a job may have become runnable (a wake token), or `seconds` pass."""
        return await self.redis.blpop([self.keys.wake], seconds) is not None

    def limit_rates(self, registry: TaskRegistry) -> None:
        """The tasks' own rates, or the setting's where it names the task."""
        declared = {task.name: task.rate for task in registry.all()}
        rates = task_rates(declared, self.settings.task_rates)
        self.rate_args = rate_args(rates)
        if rates:
            log.info("rate limits: %s", ", ".join(f"{t} {r}" for t, r in sorted(rates.items())))

    async def keep_alive(self, consumer: str, entries: list[str]) -> None:
        """Resets the idle time of entries this worker is still running, so none is taken over."""
        if entries:
            ids: list[int | bytes | str | memoryview] = list(entries)
            await self.redis.xclaim(self.keys.stream, GROUP, consumer, 0, ids, justid=True)

    def _tell_start(self, job_id: str, consumer: str, row: list[Any]) -> None:
        """Queued now, so it goes out before anything the job itself reports."""
        if row[0] == "run":
            session, ref, attempt, runs = row[4:8]
            body = job_events.started(job_id, consumer, int(attempt))
            at = job_events.step(int(runs), job_events.STARTED)
            first = job_events.accepted(job_id, json.loads(ref))
            self._tell(self.events.emit_job(session, job_id, at, body, first=first))
        elif row[0] == "dead":
            _, error, session, ref, attempt, runs = row
            body = job_events.failed(job_id, json.loads(ref), error, int(attempt))
            end = job_events.step(int(runs), job_events.END)
            first = job_events.accepted(job_id, json.loads(ref))
            self._tell(self.events.emit_job(session, job_id, end, body, final=True, first=first))

    def _tell(self, sending: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(sending)
        self.telling.add(task)
        task.add_done_callback(self._told)

    def _told(self, task: asyncio.Task[None]) -> None:
        self.telling.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Its session learns the job's state later: the next event, or the end's recovery.
            log.warning("could not tell a session about its job: %s", task.exception())

    def succeeded(
        self, delivery: Delivery, consumer: str, started: Started, result: Any
    ) -> Outcome:
        body = job_events.result(delivery.job_id, started.ref, consumer, result)
        return Outcome(delivery, started, "succeeded", json.dumps(result), 0.0, body)

    def failed(self, delivery: Delivery, started: Started, error: str) -> Outcome:
        final = started.attempt >= self.settings.max_attempts
        delay = min(
            self.settings.retry_backoff_max,
            self.settings.retry_backoff * 2 ** (started.attempt - 1),
        )
        retry_in = None if final else delay
        body = job_events.failed(delivery.job_id, started.ref, error, started.attempt, retry_in)
        kind = "dead" if final else "retry"
        return Outcome(delivery, started, kind, error, time.time() + delay, body)

    async def settle(self, outcome: Outcome) -> str:
        """Stores the outcome and acknowledges the entry (only if the job is still running),
        then tells the sender. Should this process die in between, the web process holding the
        sender's session sends the end itself, from what was stored."""
        keys, job_id, started = self.keys, outcome.delivery.job_id, outcome.started
        settle_keys = [keys.job(job_id), keys.stream, keys.delayed, keys.dead, keys.stats]
        settle_keys += [keys.latencies, keys.latency_histogram, *keys.job_tail]
        settle_args: list[str | int | float] = [outcome.delivery.entry, GROUP, time.time()]
        settle_args += [job_id, outcome.kind]
        settle_args += [outcome.value, outcome.due, started.runs]
        at = job_events.step(started.runs, job_events.END if outcome.final else job_events.FAILED)
        if self._settle_told is not None and started.session:
            told_keys, told_args = self.events.job_call(
                started.session, job_id, at, outcome.body, final=outcome.final
            )
            both = await self._settle_told(
                keys=[*settle_keys, *told_keys],
                args=combined_args(settle_keys, settle_args, told_args),
            )
            if len(both) > 1:
                await self.events.route(started.session, both[1])
            return str(both[0])
        reply = await self._settle(keys=settle_keys, args=settle_args)
        if reply == outcome.kind:
            await self.events.emit_job(
                started.session, job_id, at, outcome.body, final=outcome.final
            )
        return str(reply)

    async def report_progress(
        self, delivery: Delivery, consumer: str, started: Started, fraction: float
    ) -> bool:
        """Stores and sends progress, unless the job is no longer this worker's to run."""
        session = await self._progress(
            keys=[self.keys.job(delivery.job_id), *self.keys.job_tail],
            args=[consumer, delivery.job_id, fraction],
        )
        if session is None:
            return False
        body = job_events.progress(delivery.job_id, fraction)
        at = job_events.progress_step(started.runs, fraction)
        await self.events.emit_job(str(session), delivery.job_id, at, body)
        return True

    async def acknowledge(self, delivery: Delivery) -> str:
        """Drops a delivery whose job was cancelled (its state is already final)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.keys.stream, GROUP, delivery.entry)
            pipe.xdel(self.keys.stream, delivery.entry)
            await pipe.execute()
        return "cancelled"

    async def release(self, delivery: Delivery, consumer: str) -> bool:
        """Hands an unfinished job back to the queue (worker shutting down)."""
        job, ready, wake = self.keys.job(delivery.job_id), self.keys.ready, self.keys.wake
        reply = await self._release(
            keys=[job, self.keys.stream, ready, wake, *self.keys.job_tail],
            args=[delivery.entry, GROUP, consumer, delivery.job_id],
        )
        return int(reply) == 1
