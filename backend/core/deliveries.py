"""The worker's side of the queue: taking jobs, starting them, storing their outcome.

Guarantees, and where they come from:
- each job goes to one worker at a time: TAKE pops it from the ready set and delivers its
  stream entry to that worker alone, in one script;
- nothing is lost: an entry stays pending until the script that stores the outcome acknowledges
  it, and a pending entry whose worker stopped beating is taken over (XAUTOCLAIM) after the
  visibility timeout;
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
from backend.core.scripts import taking
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
        self._start = script(scripts.START)
        self._take = script(taking.TAKE)
        # (task, limit, period) of each rate-limited task, as TAKE's arguments
        self.rate_args: list[str | int | float] = []
        self._settle = script(scripts.SETTLE)
        self._release = script(scripts.RELEASE)
        self._progress = script(scripts.PROGRESS)
        self.reclaim_cursor = "0-0"
        self.telling: set[asyncio.Task[None]] = set()
        super().__init__()

    async def ensure_group(self) -> None:
        await ensure_group(self.redis, self.keys)

    async def take(self, consumer: str, count: int) -> list[tuple[Delivery, Started | None]]:
        """Up to `count` runnable jobs, highest priority first, each already started (None for
        one with nothing to run); jobs over their task's rate limit are held back, not taken."""
        keys = self.keys
        reply: Any = await self._take(
            keys=[keys.stream, keys.ready, keys.limited, keys.dead, keys.stats, *keys.job_tail],
            args=[GROUP, consumer, time.time(), count, keys.queue_base, *self.rate_args],
        )
        taken = []
        for entry, job_id, row in reply:
            delivery = Delivery(str(entry), str(job_id))
            self._tell_start(delivery.job_id, consumer, row)
            taken.append((delivery, started_from(row)))
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

    async def reclaim(self, consumer: str, count: int) -> list[Delivery]:
        """Entries idle past the visibility timeout, i.e. held by a worker that died."""
        idle_ms = int(self.settings.visibility_timeout * 1000)
        # XAUTOCLAIM scans a limited stretch of the pending list per call: carry the cursor, so
        # entries behind a long run of live ones are reached on later calls.
        reply: Any = await self.redis.xautoclaim(
            self.keys.stream, GROUP, consumer, idle_ms, start_id=self.reclaim_cursor, count=count
        )
        self.reclaim_cursor = str(reply[0])
        claimed = reply[1]
        deliveries = [Delivery(entry, fields["job"]) for entry, fields in claimed if fields]
        gone = [entry for entry, fields in claimed if not fields]
        if gone:  # deleted while pending: nothing to run, just clear it
            await self.redis.xack(self.keys.stream, GROUP, *gone)
        return deliveries

    async def keep_alive(self, consumer: str, entries: list[str]) -> None:
        """Resets the idle time of entries this worker is still running, so none is taken over."""
        if entries:
            ids: list[int | bytes | str | memoryview] = list(entries)
            await self.redis.xclaim(self.keys.stream, GROUP, consumer, 0, ids, justid=True)

    async def start(self, deliveries: list[Delivery], consumer: str) -> list[Started | None]:
        """Marks the jobs running in one call for the whole read, then tells their senders
        (without holding up the jobs); None for a delivery with nothing to run (cancelled, or
        dead after too many attempts)."""
        if not deliveries:
            return []
        jobs = [self.keys.job(d.job_id) for d in deliveries]
        pairs = [item for d in deliveries for item in (d.entry, d.job_id)]
        rows = await self._start(
            keys=[self.keys.stream, self.keys.dead, self.keys.stats, *jobs, *self.keys.job_tail],
            args=[GROUP, consumer, time.time(), *pairs],
        )
        for delivery, row in zip(deliveries, rows, strict=True):
            self._tell_start(delivery.job_id, consumer, row)
        return [started_from(row) for row in rows]

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
        keys, job_id = self.keys, outcome.delivery.job_id
        reply = await self._settle(
            keys=[
                keys.job(job_id),
                keys.stream,
                keys.delayed,
                keys.dead,
                keys.stats,
                keys.latencies,
                keys.latency_histogram,
                *keys.job_tail,
            ],
            args=[
                outcome.delivery.entry,
                GROUP,
                time.time(),
                job_id,
                outcome.kind,
                outcome.value,
                outcome.due,
            ],
        )
        if reply == outcome.kind:
            started = outcome.started
            at = job_events.step(
                started.runs, job_events.END if outcome.final else job_events.FAILED
            )
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
