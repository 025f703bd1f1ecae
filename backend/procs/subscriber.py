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

from backend.core.consumers import ConsumerKind
from backend.core.events import SessionEvents, encode
from backend.core.listener import ChannelListener
from backend.core.pubsub import Broadcast
from backend.core.runner import describe, no_progress
from backend.core.tasks import TaskContext
from backend.procs.consumer import ConsumerProcess, run_consumer
from backend.settings import Settings

log = logging.getLogger("courier.subscriber")

MAX_BACKLOG = 10_000


class Subscriber(ConsumerProcess):
    kind = ConsumerKind.SUBSCRIBER

    def setup(self) -> None:
        self.running: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(self.settings.worker_concurrency)
        self.stopping = False
        self.dropped = 0
        self.listening: asyncio.Task[None] | None = None

    @property
    def is_busy(self) -> bool:
        return bool(self.running)

    def counters(self) -> dict[str, int]:
        subscribed = self.listener.subscribed.is_set()
        return {"processed": self.processed, "subscribed": int(subscribed)}

    async def prepare(self, stop: asyncio.Event) -> None:
        self.events = SessionEvents(self.redis, self.keys, self.settings)
        self.listener = ChannelListener(
            self.redis, self._on_message, shard_channels=[self.keys.topics]
        )

    async def work(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.stopping = True
        self._unsubscribe()

    def apply_pause(self, paused: bool) -> None:
        """Paused means unsubscribed: what is published meanwhile never reaches this process."""
        if paused and self.listening is not None:
            self._unsubscribe()
            log.info("paused: unsubscribed")
        elif not paused and self.listening is None and not self.stopping:
            self.listening = self.group.create_task(self.listener.run())
            log.info("listening to every topic")

    def _unsubscribe(self) -> None:
        if self.listening is not None:
            self.listening.cancel()
            self.listening = None
            self.listener.subscribed.clear()

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
            await self.events.emit_reply(message.session, message.id, encode(event))
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

    async def finish(self) -> None:
        """Answers what is already being processed (there is nothing to hand back)."""
        if self.running:
            await asyncio.wait(self.running, timeout=self.settings.shutdown_grace)


def run_subscriber(settings: Settings) -> int:
    return run_consumer("subscriber", settings, Subscriber)
