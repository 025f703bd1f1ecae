"""`courier subscriber`: listens to every pub/sub topic and answers each message it hears.

Each subscriber processes every message published while it is subscribed, with the same task
registry as the workers, and sends the sender one result. Nothing is retried or kept: a message
published while no subscriber listens is gone, which is the point of the comparison with the
queue. After a Redis restart the subscriber subscribes again by itself, with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError

from backend.core.beating import beat_forever
from backend.core.connection import create_redis
from backend.core.consumers import ConsumerKind, ConsumerState, Heartbeat, new_consumer_id
from backend.core.control import is_pause_message, is_paused
from backend.core.events import SessionEvents
from backend.core.keys import Keys
from backend.core.listener import ChannelListener
from backend.core.pubsub import Broadcast
from backend.core.runner import TaskRunner, describe, no_progress
from backend.core.tasks import TaskContext, TaskRegistry, load_tasks
from backend.procs.role import configure_logging, run_role
from backend.settings import Settings

log = logging.getLogger("courier.subscriber")

MAX_BACKLOG = 10_000


class Subscriber:
    def __init__(
        self,
        settings: Settings,
        registry: TaskRegistry | None = None,
        consumer_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.id = consumer_id or new_consumer_id(ConsumerKind.SUBSCRIBER)
        self.runner = TaskRunner(registry or load_tasks(settings.tasks))
        self.processed = 0
        self.running: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(settings.worker_concurrency)
        self.paused = False
        self.stopping = False
        self.dropped = 0
        self.listening: asyncio.Task[None] | None = None

    def state(self) -> ConsumerState:
        if self.paused:
            return ConsumerState.PAUSED
        return ConsumerState.BUSY if self.running else ConsumerState.IDLE

    async def run(self, stop: asyncio.Event) -> None:
        redis = create_redis(self.settings)
        self.redis = redis
        self.events = SessionEvents(redis, self.keys, self.settings)
        self.listener = ChannelListener(redis, [], self._on_message, patterns=[self.keys.topics])
        control = ChannelListener(redis, [self.keys.control], self._on_control, self._sync_pause)
        heartbeat = Heartbeat(redis, self.keys, ConsumerKind.SUBSCRIBER, self.id)
        log.info("subscriber %s started", self.id)
        try:
            async with asyncio.TaskGroup() as group:
                self.group = group
                beat = beat_forever(
                    heartbeat, self.settings.heartbeat_interval, self.state, self._counters
                )
                loops = [group.create_task(beat), group.create_task(control.run())]
                await self._sync_pause()
                await stop.wait()
                self.stopping = True
                self._unsubscribe()
                for loop in loops:
                    loop.cancel()
            await self._finish_running()
            await heartbeat.sign_off()
        finally:
            self.runner.close()
            await redis.aclose()
            log.info("subscriber %s stopped after %d messages", self.id, self.processed)

    def _on_control(self, channel: str, data: str) -> None:
        if is_pause_message(data):
            self.group.create_task(self._sync_pause())

    async def _sync_pause(self) -> None:
        """Paused means unsubscribed: what is published meanwhile never reaches this process."""
        try:
            paused = await is_paused(self.redis, self.keys, self.id)
        except RedisError as exc:
            log.warning("could not read the pause state: %s", exc)
            return
        if paused and self.listening is not None:
            self._unsubscribe()
            log.info("paused: unsubscribed")
        elif not paused and self.listening is None and not self.stopping:
            self.listening = self.group.create_task(self.listener.run())
            log.info("listening to every topic")
        self.paused = paused

    def _unsubscribe(self) -> None:
        if self.listening is not None:
            self.listening.cancel()
            self.listening = None
            self.listener.subscribed.clear()

    def _counters(self) -> dict[str, int]:
        subscribed = self.listener.subscribed.is_set()
        return {"processed": self.processed, "subscribed": int(subscribed)}

    def _on_message(self, channel: str, data: str) -> None:
        if len(self.running) >= MAX_BACKLOG:
            # Pub/sub has no backpressure: past this many, drop (and say so) rather than grow.
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("overloaded: dropped %d messages so far", self.dropped)
            return
        try:
            message = Broadcast.model_validate_json(data)
        except ValidationError as exc:
            log.warning("ignoring a malformed message on %s: %s", channel, exc)
            return
        task = asyncio.create_task(self._answer(message))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _answer(self, message: Broadcast) -> None:
        async with self.slots:
            event = await self._process(message)
        try:
            await self.events.emit(message.session, event)
        except RedisError as exc:
            log.warning("could not answer message %s: %s", message.id, exc)

    async def _process(self, message: Broadcast) -> dict[str, Any]:
        base = {"id": message.id, "ref": message.ref, "mode": "pubsub", "consumer": self.id}
        context = TaskContext(message.id, 1, no_progress)
        try:
            result = await self.runner.run(message.task, message.text, message.args, context)
        except Exception as exc:
            return {"type": "failed", **base, "error": describe(exc), "attempt": 1, "final": True}
        self.processed += 1
        return {"type": "result", **base, "result": result}

    async def _finish_running(self) -> None:
        """Answers what is already being processed (there is nothing to hand back)."""
        if self.running:
            await asyncio.wait(self.running, timeout=self.settings.shutdown_grace)


def run_subscriber(settings: Settings) -> int:
    configure_logging(settings, "subscriber")
    try:
        subscriber = Subscriber(settings)
    except ImportError as exc:
        log.error("%s", exc)
        return 2
    run_role(subscriber.run)
    return 0
