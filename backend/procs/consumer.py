"""What every consumer process does around its real work: heartbeats, the control channel,
pausing, and starting and stopping as an OS process. Worker and Subscriber build on it.

A consumer obeys pause wishes kept in Redis (not just a message), so one that starts later or
missed the message while reconnecting still obeys; after any control-channel reconnect it looks
at the wishes again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from redis.exceptions import RedisError

from backend.core.connection import create_redis
from backend.core.consumers import ConsumerKind, ConsumerState, Heartbeat, new_consumer_id
from backend.core.control import Command, is_paused, parse_command
from backend.core.keys import Keys
from backend.core.listener import ChannelListener
from backend.core.loops import cancel_and_wait
from backend.core.runner import TaskRunner
from backend.core.tasks import TaskRegistry, load_tasks
from backend.procs.role import configure_logging, run_role
from backend.settings import Settings

log = logging.getLogger("courier.consumer")

CRASH_EXIT = 70


class ConsumerProcess(ABC):
    kind: ClassVar[ConsumerKind]

    def __init__(
        self,
        settings: Settings,
        registry: TaskRegistry | None = None,
        consumer_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.id = consumer_id or new_consumer_id(self.kind)
        self.registry = registry or load_tasks(settings.tasks)
        self.runner = TaskRunner(
            self.registry, timeout=settings.job_timeout, processes=settings.worker_concurrency
        )
        self.processed = 0
        self.paused = False
        self.checks: set[asyncio.Task[None]] = set()
        self.setup()

    # What each kind of consumer fills in --------------------------------------------------------

    @abstractmethod
    def setup(self) -> None:
        """The kind's own state, made when the consumer is."""

    @property
    @abstractmethod
    def is_busy(self) -> bool: ...

    def counters(self) -> dict[str, int]:
        return {"processed": self.processed}

    async def prepare(self, stop: asyncio.Event) -> None:
        """Runs before anything else once Redis is connected."""
        return

    def background(self, group: asyncio.TaskGroup) -> list[asyncio.Task[None]]:
        """Loops that run beside `work` and are cancelled once it returns."""
        return []

    @abstractmethod
    async def work(self, stop: asyncio.Event) -> None:
        """The consumer's real work, until `stop` is set (or, in burst mode, nothing is left)."""

    async def finish(self) -> None:
        """After the loops stopped, before signing off."""
        return

    @abstractmethod
    def apply_pause(self, paused: bool) -> None: ...

    def obey(self, command: Command) -> None:
        """A control command other than the pause re-check and crash."""
        return

    # The common part ---------------------------------------------------------------------------

    @property
    def state(self) -> ConsumerState:
        if self.paused:
            return ConsumerState.PAUSED
        return ConsumerState.BUSY if self.is_busy else ConsumerState.IDLE

    async def run(self, stop: asyncio.Event) -> None:
        self.redis = create_redis(self.settings)
        heartbeat = Heartbeat(self.redis, self.keys, self.kind, self.id)
        control = ChannelListener(
            self.redis, self.on_control, self.sync_pause, channels=[self.keys.control]
        )
        log.info("%s started", self.id)
        try:
            await self.prepare(stop)
            async with asyncio.TaskGroup() as group:
                self.group = group
                beat = heartbeat.beat_forever(
                    self.settings.heartbeat_interval, lambda: self.state, self.counters
                )
                loops = [group.create_task(beat), group.create_task(control.run())]
                loops += self.background(group)
                await self.sync_pause()
                await self.work(stop)
                await cancel_and_wait(loops)
            await self.finish()
            await heartbeat.sign_off()
        finally:
            self.runner.close()
            await self.redis.aclose()
            log.info("%s stopped after %d", self.id, self.processed)

    async def sync_pause(self) -> None:
        """Looks at the pause wishes in Redis and obeys them."""
        try:
            paused = await is_paused(self.redis, self.keys, self.id)
        except RedisError as exc:
            log.warning("could not read the pause state: %s", exc)
            return
        if paused != self.paused:
            log.info("%s", "paused" if paused else "resumed")
        self.paused = paused
        self.apply_pause(paused)

    def on_control(self, channel: str, data: str) -> None:
        command = parse_command(data)
        if command is None:
            return
        if command.action == "pause-state":
            check = asyncio.create_task(self.sync_pause())
            self.checks.add(check)
            check.add_done_callback(self.checks.discard)
        elif command.action == "crash" and command.consumer == self.id:
            log.warning("crashing on request, as if killed: no cleanup, no hand-back")
            os._exit(CRASH_EXIT)
        else:
            self.obey(command)


def run_consumer(
    role: str, settings: Settings, build: Callable[[Settings], ConsumerProcess]
) -> int:
    """The process entry of `courier worker` and `courier subscriber`: 2 when the user's task
    module cannot be imported, else 0 once stopped by a signal (or done, in burst mode)."""
    configure_logging(settings, role)
    try:
        consumer = build(settings)
    except ImportError as exc:
        log.error("%s", exc)
        return 2
    run_role(consumer.run)
    return 0
