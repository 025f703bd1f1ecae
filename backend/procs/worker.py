"""`courier worker`: takes jobs from the queue and runs them, `concurrency` at a time.

A take first claims the entries a worker that died left pending past the visibility timeout
(looking at most every `claim_interval`, see pacing.py), so they run before the backlog. Beside
the take loop, a worker runs small owned loops: keep-alive of its in-flight entries (so a long
job is not taken over while the worker lives) and promotion of due retries, delayed and
rate-limited jobs; the consumer base adds heartbeats and the control channel. SIGTERM stops
taking, waits `shutdown_grace` for in-flight jobs, and hands the rest back to the queue."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from typing import Any

from redis.exceptions import RedisError, ResponseError

from backend.core.attempts import Delivery, Outcome, Started
from backend.core.consumers import ConsumerKind
from backend.core.control import Command
from backend.core.deliveries import Deliveries
from backend.core.loops import every, first_of, patiently
from backend.core.queue import JobQueue
from backend.core.runner import describe
from backend.core.scheduler import build_schedules, run_schedules
from backend.core.tasks import TaskContext
from backend.procs.consumer import ConsumerProcess, run_consumer
from backend.procs.pacing import TakeOverPacing
from backend.procs.running import Running
from backend.settings import Settings

log = logging.getLogger("courier.worker")

READ_BLOCK_SECONDS = 1.0
BURST_HORIZON = 0.5  # burst mode waits for retries and delayed jobs due this soon
CANCEL_MEMORY = 1000
GATHER_SECONDS = 0.002
RETRY_PAUSE = 0.5
SETTLE_PATIENCE = 15.0  # seconds a finished job's outcome is retried for


class Worker(ConsumerProcess):
    kind = ConsumerKind.WORKER

    def __init__(self, settings: Settings, *, burst: bool = False, **identity: Any) -> None:
        self.burst = burst  # process what is queued, then return (for tests and scripts)
        super().__init__(settings, **identity)

    def setup(self) -> None:
        self.running = Running(self.settings.worker_concurrency)
        self.pacing = TakeOverPacing(self.settings.visibility_timeout)
        self.unpaused = asyncio.Event()
        self.unpaused.set()
        self.next_promotion = 0.0
        # Cancels seen for jobs not (yet) running here, newest last: a cancel can overtake the
        # reply of the START call that marks the job running.
        self.cancel_requests: collections.OrderedDict[str, None] = collections.OrderedDict()

    @property
    def is_busy(self) -> bool:
        return bool(self.running)

    def counters(self) -> dict[str, int]:
        return {"processed": self.processed, "running": len(self.running)}

    def apply_pause(self, paused: bool) -> None:
        """A paused worker finishes what it holds but takes no new job; they wait in the queue."""
        (self.unpaused.clear if paused else self.unpaused.set)()

    async def prepare(self, stop: asyncio.Event) -> None:
        self.queue = Deliveries(self.redis, self.keys, self.settings)
        self.queue.limit_rates(self.registry)
        self.producer = JobQueue(self.redis, self.keys, self.settings)  # for schedules' ticks
        self.schedules = build_schedules(self.redis, self.keys, self.settings, self.registry)
        log.info("concurrency %d", self.running.concurrency)
        while not stop.is_set():
            try:
                await self.queue.ensure_group()
                return
            except RedisError as exc:
                self.pacing.met_error()
                log.warning("waiting for Redis: %s", exc)
                await asyncio.sleep(RETRY_PAUSE)

    def background(self, group: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        loops = [
            every(self.pacing.until_keep_alive, self._keep_alive, log=log, what="keep-alive"),
            every(self._until_promotion, self._promote, log=log, what="retry promotion"),
            run_schedules(self.schedules, self.producer),
        ]
        return [group.create_task(loop) for loop in loops]

    async def work(self, stop: asyncio.Event) -> None:
        await self._consume(stop)
        await self._drain()

    async def _consume(self, stop: asyncio.Event) -> None:
        busy = False
        while not stop.is_set():
            if not self.running.has_room.is_set():
                await first_of(self.running.has_room.wait(), stop.wait())
                continue
            if self.paused:
                await first_of(self.unpaused.wait(), stop.wait())
                continue
            if busy:
                # Jobs are arriving faster than one at a time: let a few more gather, so one
                # take and one settle round trip serve several jobs.
                await asyncio.sleep(GATHER_SECONDS)
            wanted = self.running.free
            taken = await self._take(wanted, stop)
            await self._launch(taken)
            busy = len(taken) > 1
            if len(taken) < wanted and not await self._wait_for_work(stop):
                return  # burst: nothing runnable, or due within a moment

    async def _take(self, count: int, stop: asyncio.Event) -> list[tuple[Delivery, Any]]:
        """Takes and starts up to `count` jobs in one call; if that fails, none was taken, or
        those taken stay pending and are taken over after the visibility timeout."""
        try:
            taken = await self.queue.take(self.id, max(1, count), self.pacing.claim_now())
            if self.queue.more_to_claim:
                self.pacing.look_again()
            return taken
        except RedisError as exc:
            self.pacing.met_error()
            if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):  # Redis lost its data
                with contextlib.suppress(RedisError):
                    await self.queue.ensure_group()
                return []
            log.warning("taking jobs failed, retrying: %s", exc)
            await self._pause_after_error(stop)
            return []

    async def _wait_for_work(self, stop: asyncio.Event) -> bool:
        """Nothing more is runnable now: waits for a wake token (False: a burst is over)."""
        try:
            if self.burst and not self.running and not await self.queue.due_within(BURST_HORIZON):
                return False
            await self.queue.wait_for_work(0.05 if self.burst else READ_BLOCK_SECONDS)
        except RedisError as exc:
            self.pacing.met_error()
            log.warning("waiting for jobs failed, retrying: %s", exc)
            await self._pause_after_error(stop)
        return True

    async def _pause_after_error(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RETRY_PAUSE)

    async def _launch(self, taken: list[tuple[Delivery, Started | None]]) -> None:
        for delivery, started in taken:
            if started is None or delivery.job_id in self.running.jobs:
                continue  # nothing to run, or our own entry claimed back: it runs already
            if delivery.job_id in self.cancel_requests:  # cancelled while we were starting it
                with contextlib.suppress(RedisError):
                    await self.queue.acknowledge(delivery)
                continue
            self.running.launch(delivery, self._handle(delivery, started))

    async def _drain(self) -> None:
        """Waits `shutdown_grace` for in-flight jobs, then hands back what is left."""
        if not self.running:
            return
        log.info("waiting up to %gs for %d jobs", self.settings.shutdown_grace, len(self.running))
        for delivery in await self.running.wait_then_cancel(self.settings.shutdown_grace):
            with contextlib.suppress(RedisError):
                if await self.queue.release(delivery, self.id):
                    log.info("handed back job %s", delivery.job_id)

    async def _handle(self, delivery: Delivery, started: Started) -> None:
        try:
            result = await self._execute(delivery, started)
        except asyncio.CancelledError:
            if not self.running.was_cancelled(delivery.job_id):
                raise  # shutdown: _drain hands the job back
            with contextlib.suppress(RedisError):  # its state is final already
                await self.queue.acknowledge(delivery)
            return
        except Exception as exc:
            outcome = self.queue.failed(delivery, started, describe(exc))
        else:
            outcome = self.queue.succeeded(delivery, self.id, started, result)
            self.processed += 1
        await self._settle(outcome)

    async def _settle(self, outcome: Outcome) -> None:
        """Stores the outcome, through a Redis restart or failover (a second store does nothing).
        If Redis stays away, the entry stays pending and the job is re-run after the visibility
        timeout."""

        async def attempt() -> str:
            try:
                return await self.queue.settle(outcome)
            except RedisError:
                self.pacing.met_error()
                raise

        try:
            await patiently(attempt, SETTLE_PATIENCE)
        except RedisError as exc:
            log.warning("could not store the outcome of job %s: %s", outcome.delivery.job_id, exc)

    async def _execute(self, delivery: Delivery, job: Started) -> Any:
        async def progress(fraction: float) -> None:
            fraction = round(min(1.0, max(0.0, fraction)), 4)
            with contextlib.suppress(RedisError):  # progress is a courtesy; the job goes on
                await self.queue.report_progress(delivery, self.id, job, fraction)

        context = TaskContext(delivery.job_id, job.attempt, progress)
        return await self.runner.run(job.task, job.text, job.args, context, timeout=job.timeout)

    async def _keep_alive(self) -> None:
        try:
            await self.queue.keep_alive(self.id, self.running.entries())
        except RedisError:
            self.pacing.kept_alive(False)
            raise
        self.pacing.kept_alive(True)

    async def _promote(self) -> None:
        """Moves due retries, delayed and rate-limited jobs back, then sleeps until the next is
        due (at most 1 s)."""
        await self.queue.promote_due()
        self.next_promotion = min(time.time() + 1.0, await self.queue.next_due() or math.inf)

    def _until_promotion(self) -> float:
        return max(0.01, self.next_promotion - time.time())

    def obey(self, command: Command) -> None:
        if command.action != "cancel":
            return
        self.cancel_requests[command.id] = None
        while len(self.cancel_requests) > CANCEL_MEMORY:
            self.cancel_requests.popitem(last=False)
        if self.running.cancel(command.id):
            log.info("cancelling job %s", command.id)


def run_worker(settings: Settings, burst: bool = False) -> int:
    return run_consumer("worker", settings, lambda s: Worker(s, burst=burst))
