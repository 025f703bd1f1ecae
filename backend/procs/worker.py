"""`courier worker`: takes jobs from the queue and runs them, `concurrency` at a time.

Beside the read loop, a worker runs small owned loops: heartbeat, keep-alive of its in-flight
entries (so a long job is not taken over while the worker lives), take-over of entries whose
worker died, promotion of due retries, and the control channel (cancel). SIGTERM stops reading,
waits `shutdown_grace` for in-flight jobs, and hands the rest back to the queue.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from backend.core.beating import beat_forever
from backend.core.connection import create_redis
from backend.core.consumers import ConsumerKind, ConsumerState, Heartbeat, new_consumer_id
from backend.core.control import is_pause_message, is_paused
from backend.core.keys import Keys
from backend.core.listener import ChannelListener
from backend.core.queue import Delivery, JobQueue, Started
from backend.core.runner import TaskRunner, describe
from backend.core.tasks import TaskContext, TaskRegistry, load_tasks
from backend.procs.role import configure_logging, run_role, stop_if_cancelled
from backend.settings import Settings

log = logging.getLogger("courier.worker")

READ_BLOCK_MS = 1000
CRASH_EXIT = 70
CANCEL_MEMORY = 1000
GATHER_SECONDS = 0.002
RETRY_PAUSE = 0.5


class Worker:
    def __init__(
        self,
        settings: Settings,
        registry: TaskRegistry | None = None,
        consumer_id: str | None = None,
        burst: bool = False,
    ) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.registry = registry or load_tasks(settings.tasks)
        self.id = consumer_id or new_consumer_id(ConsumerKind.WORKER)
        self.burst = burst  # process what is queued, then return (for tests and scripts)
        self.concurrency = settings.worker_concurrency
        self.processed = 0
        self.running: dict[str, tuple[Delivery, asyncio.Task[None]]] = {}
        self.cancelled: set[str] = set()
        self.draining = False
        self.unpaused = asyncio.Event()
        self.unpaused.set()
        self.checks: set[asyncio.Task[None]] = set()
        # Cancels seen for jobs not (yet) running here, newest last: a cancel can overtake the
        # reply of the START call that marks the job running.
        self.cancel_requests: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.has_room = asyncio.Event()
        self.has_room.set()
        self.runner = TaskRunner(self.registry)

    @property
    def state(self) -> ConsumerState:
        if self.paused:
            return ConsumerState.PAUSED
        return ConsumerState.BUSY if self.running else ConsumerState.IDLE

    @property
    def paused(self) -> bool:
        return not self.unpaused.is_set()

    def _recheck_pause(self) -> None:
        task = asyncio.create_task(self._load_pause())
        self.checks.add(task)
        task.add_done_callback(self.checks.discard)

    async def _load_pause(self) -> None:
        """A paused worker finishes what it holds but takes no new job; they wait in the queue."""
        try:
            paused = await is_paused(self.queue.redis, self.keys, self.id)
        except RedisError as exc:
            log.warning("could not read the pause state: %s", exc)
            return
        if paused != self.paused:
            log.info("%s", "paused" if paused else "resumed")
        if paused:
            self.unpaused.clear()
        else:
            self.unpaused.set()

    async def run(self, stop: asyncio.Event) -> None:
        redis = create_redis(self.settings)
        self.queue = JobQueue(redis, self.keys, self.settings)
        heartbeat = Heartbeat(redis, self.keys, ConsumerKind.WORKER, self.id)
        log.info("worker %s started (concurrency %d)", self.id, self.concurrency)
        try:
            await self._wait_for_redis(self.queue, stop)
            await self._load_pause()
            async with asyncio.TaskGroup() as group:
                loops = self._start_loops(group, redis, heartbeat)
                await self._consume(stop)
                self.draining = True  # no more take-overs: they would start jobs we then drop
                await self._drain()
                for loop in loops:
                    loop.cancel()
            await heartbeat.sign_off()
        finally:
            self.runner.close()
            await redis.aclose()
            log.info("worker %s stopped after %d jobs", self.id, self.processed)

    def _start_loops(
        self, group: asyncio.TaskGroup, redis: Redis, heartbeat: Heartbeat
    ) -> list[asyncio.Task[None]]:
        interval = self.settings.visibility_timeout / 3
        control = ChannelListener(redis, [self.keys.control], self._on_control, self._load_pause)
        counters = lambda: {"processed": self.processed, "running": len(self.running)}  # noqa: E731
        return [
            group.create_task(
                beat_forever(
                    heartbeat, self.settings.heartbeat_interval, lambda: self.state, counters
                )
            ),
            group.create_task(self._every(interval, self._keep_alive)),
            group.create_task(self._every(interval, self._take_over)),
            group.create_task(self._promote_retries()),
            group.create_task(control.run()),
        ]

    async def _wait_for_redis(self, queue: JobQueue, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await queue.ensure_group()
                return
            except RedisError as exc:
                log.warning("waiting for Redis: %s", exc)
                await asyncio.sleep(RETRY_PAUSE)

    # The read loop --------------------------------------------------------------------------

    async def _consume(self, stop: asyncio.Event) -> None:
        busy = False
        while not stop.is_set():
            if not self.has_room.is_set():
                await first_of(self.has_room.wait(), stop.wait())
                continue
            if self.paused:
                await first_of(self.unpaused.wait(), stop.wait())
                continue
            if busy:
                # Jobs are arriving faster than one at a time: let a few more gather, so one
                # read, one start and one settle round trip serve several jobs.
                await asyncio.sleep(GATHER_SECONDS)
            deliveries = await self._read(self._free_slots(), stop)
            if self.burst and not deliveries and not self.running:
                return
            busy = len(deliveries) > 1
            if self.paused and deliveries:  # paused while the read was waiting
                await self._requeue(deliveries)
                continue
            await self._start(deliveries)

    def _free_slots(self) -> int:
        return self.concurrency - len(self.running)

    async def _read(self, count: int, stop: asyncio.Event) -> list[Delivery]:
        block = 50 if self.burst else READ_BLOCK_MS
        try:
            return await self.queue.read(self.id, max(1, count), block)
        except RedisError as exc:
            if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                # Redis lost its data: recreate the group
                with contextlib.suppress(RedisError):
                    await self.queue.ensure_group()
                return []
            log.warning("read failed, retrying: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_PAUSE)
            return []

    async def _requeue(self, deliveries: list[Delivery]) -> None:
        try:
            await self.queue.requeue(deliveries)
        except RedisError as exc:  # they stay pending and are taken over after the timeout
            log.warning("could not requeue %d jobs: %s", len(deliveries), exc)

    async def _start(self, deliveries: list[Delivery]) -> None:
        """Starts a whole read in one call; if that fails the entries stay pending and are
        taken over after the visibility timeout."""
        try:
            starts = await self.queue.start(deliveries, self.id)
        except RedisError as exc:
            log.warning("could not start %d jobs (they stay pending): %s", len(deliveries), exc)
            return
        for delivery, started in zip(deliveries, starts, strict=True):
            if started is None:
                continue
            if delivery.job_id in self.cancel_requests:  # cancelled while we were starting it
                with contextlib.suppress(RedisError):
                    await self.queue.acknowledge(delivery)
                continue
            self._launch(delivery, started)

    def _launch(self, delivery: Delivery, started: Started) -> None:
        job = self._handle(delivery, started)
        task = asyncio.create_task(job, name=f"job {delivery.job_id}")
        self.running[delivery.job_id] = (delivery, task)
        task.add_done_callback(lambda _: self._finished(delivery))
        if self._free_slots() <= 0:
            self.has_room.clear()

    def _finished(self, delivery: Delivery) -> None:
        self.running.pop(delivery.job_id, None)
        self.cancelled.discard(delivery.job_id)
        self.has_room.set()

    async def _drain(self) -> None:
        """Waits `shutdown_grace` for in-flight jobs, then hands back what is left."""
        if not self.running:
            return
        log.info("waiting up to %gs for %d jobs", self.settings.shutdown_grace, len(self.running))
        tasks = [task for _, task in self.running.values()]
        await asyncio.wait(tasks, timeout=self.settings.shutdown_grace)
        leftover = list(self.running.values())
        for _, task in leftover:
            task.cancel()
        await asyncio.gather(*(task for _, task in leftover), return_exceptions=True)
        for delivery, _ in leftover:
            with contextlib.suppress(RedisError):
                if await self.queue.release(delivery, self.id):
                    log.info("handed back job %s", delivery.job_id)

    # One job ---------------------------------------------------------------------------------

    async def _handle(self, delivery: Delivery, started: Started) -> None:
        try:
            result = await self._execute(delivery, started)
        except asyncio.CancelledError:
            if delivery.job_id not in self.cancelled:
                raise  # shutdown: _drain hands the job back
            with contextlib.suppress(RedisError):  # its state is final already
                await self.queue.acknowledge(delivery)
            return
        except Exception as exc:
            outcome = self.queue.failed(delivery, started, describe(exc))
        else:
            outcome = self.queue.succeeded(delivery, self.id, started, result)
            self.processed += 1
        try:
            await self.queue.settle(outcome)
        except RedisError as exc:
            # The entry stays pending, so the job is re-run after the visibility timeout.
            log.warning("could not store the outcome of job %s: %s", delivery.job_id, exc)

    async def _execute(self, delivery: Delivery, started: Started) -> Any:
        progress = self._progress(delivery, started)
        context = TaskContext(delivery.job_id, started.attempt, progress)
        return await self.runner.run(started.task, started.text, started.args, context)

    def _progress(self, delivery: Delivery, started: Started) -> Callable[[float], Awaitable[None]]:
        async def report(fraction: float) -> None:
            fraction = round(min(1.0, max(0.0, fraction)), 4)
            with contextlib.suppress(RedisError):  # progress is a courtesy; the job goes on
                await self.queue.report_progress(delivery, self.id, fraction)

        return report

    # Background loops ------------------------------------------------------------------------

    async def _every(self, interval: float, action: Callable[[], Awaitable[None]]) -> None:
        while True:
            stop_if_cancelled()
            await asyncio.sleep(interval)
            try:
                await action()
            except RedisError as exc:
                log.warning("%s failed: %s", action.__name__, exc)

    async def _keep_alive(self) -> None:
        await self.queue.keep_alive(self.id, [d.entry for d, _ in self.running.values()])

    async def _take_over(self) -> None:
        free = self._free_slots()
        if free <= 0 or self.draining:
            return
        deliveries = await self.queue.reclaim(self.id, free)
        for delivery in deliveries:
            log.warning("taking over job %s from a worker that stopped", delivery.job_id)
        await self._start(deliveries)

    async def _promote_retries(self) -> None:
        """Sleeps until the earliest retry is due (at most 1 s), then moves due ones back."""
        while True:
            stop_if_cancelled()
            try:
                await self.queue.promote_due()
                due = await self.queue.next_due()
            except RedisError as exc:
                log.warning("promoting retries failed: %s", exc)
                due = None
            wait = 1.0 if due is None else min(1.0, due - time.time())
            await asyncio.sleep(max(0.01, wait))

    def _on_control(self, channel: str, data: str) -> None:
        if is_pause_message(data):
            self._recheck_pause()
            return
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("ignoring a control message that is not JSON: %.80r", data)
            return
        if not isinstance(message, dict):
            return
        if message.get("action") == "crash" and message.get("consumer") == self.id:
            log.warning("crashing on request, leaving %d jobs in flight", len(self.running))
            os._exit(CRASH_EXIT)  # no cleanup, no hand-back: what a killed worker leaves behind
        if message.get("action") == "cancel":
            job_id = str(message.get("id"))
            self.cancel_requests[job_id] = None
            while len(self.cancel_requests) > CANCEL_MEMORY:
                self.cancel_requests.popitem(last=False)
            running = self.running.get(job_id)
            if running is not None:
                log.info("cancelling job %s", message["id"])
                self.cancelled.add(running[0].job_id)
                running[1].cancel()


async def first_of(*waits: Awaitable[object]) -> None:
    """Returns when the first of `waits` completes, cancelling the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def run_worker(settings: Settings, burst: bool = False) -> int:
    configure_logging(settings, "worker")
    try:
        worker = Worker(settings, burst=burst)
    except ImportError as exc:
        log.error("%s", exc)
        return 2
    run_role(worker.run)
    return 0
