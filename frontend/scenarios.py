"""The lab's guided scenarios: each a short script of real actions (pause, send, crash) with a
plain-language narration of what the visitor is seeing and why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from redis.asyncio import Redis

from backend.core.consumers import Consumer, ConsumerKind, ConsumerState, list_consumers
from backend.core.control import ALL, request_crash, set_paused
from backend.core.keys import Keys
from backend.settings import Settings


class Lab(Protocol):
    """What a scenario drives: the lab session of the visitor who clicked."""

    async def say(self, text: str) -> None: ...

    def send_both(self, text: str, count: int) -> None: ...

    def send_job(self, ref: str, task: str, args: dict[str, object]) -> None: ...

    async def wait_started(self, ref: str, within: float) -> str | None: ...

    async def wait_finished(self, ref: str, within: float) -> str | None: ...

    def queue_done(self) -> int: ...


class Scenarios:
    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings

    def get(self, name: str) -> Callable[[Lab], Coroutine[Any, Any, None]] | None:
        return {
            "nobody": self.nobody_listening,
            "three": self.three_consumers,
            "dies": self.worker_dies,
        }.get(name)

    async def _consumers(self, kind: ConsumerKind) -> list[Consumer]:
        found = await list_consumers(self.redis, self.keys, kind, self.settings.heartbeat_timeout)
        return [c for c in found if c.is_alive]

    async def _settle(self, paused: bool, within: float = 6.0) -> None:
        """Waits until every live consumer reports the wished state in its heartbeat."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            everyone = [
                *await self._consumers(ConsumerKind.WORKER),
                *await self._consumers(ConsumerKind.SUBSCRIBER),
            ]
            if all((c.state is ConsumerState.PAUSED) == paused for c in everyone):
                return
            await asyncio.sleep(0.2)

    async def nobody_listening(self, lab: Lab) -> None:
        await lab.say("Pausing every worker and subscriber, so nobody is consuming.")
        await set_paused(self.redis, self.keys, ALL, True)
        done_before = 0
        try:
            done_before = await self._paused_part(lab)
        finally:  # even if the tab closes mid-way: never leave the deployment paused
            await asyncio.shield(set_paused(self.redis, self.keys, ALL, False))
        await self._settle(paused=False)
        await _until(lambda: lab.queue_done() >= done_before + 5, within=15)
        await lab.say(
            "The queue drained: each of the 5 jobs was processed once. "
            "The lost pub/sub messages stay lost."
        )

    async def _paused_part(self, lab: Lab) -> int:
        """Sends while nobody consumes; returns how many queue jobs were done before."""
        await self._settle(paused=True)
        done_before = lab.queue_done()
        await lab.say("Sending 5 messages to both lanes.")
        lab.send_both("nobody listening", 5)
        await asyncio.sleep(2)
        await lab.say(
            "The queue keeps all 5 jobs waiting; pub/sub lost all 5: nobody was subscribed."
        )
        await lab.say("Resuming every consumer.")
        return done_before

    async def three_consumers(self, lab: Lab) -> None:
        await set_paused(self.redis, self.keys, ALL, False)
        await self._settle(paused=False)
        workers = len(await self._consumers(ConsumerKind.WORKER))
        subscribers = len(await self._consumers(ConsumerKind.SUBSCRIBER))
        await lab.say(
            f"{workers} workers and {subscribers} subscribers are running "
            "(courier run --workers 3 --subscribers 3 gives three of each). Sending 9 messages."
        )
        lab.send_both("spread", 9)
        await asyncio.sleep(2)
        await lab.say(
            "The queue spread the 9 jobs over the workers, each job once; pub/sub gave each "
            f"message to all {subscribers} subscribers: {9 * subscribers} replies."
        )

    async def worker_dies(self, lab: Lab) -> None:
        await set_paused(self.redis, self.keys, ALL, False)
        if len(await self._consumers(ConsumerKind.WORKER)) < 2:
            await lab.say("This scenario needs at least two workers running.")
            return
        lab.send_job("dies", "sleep", {"seconds": 3})
        victim = await lab.wait_started("dies", within=10)
        if victim is None:
            await lab.say("No worker took the job; is every worker paused?")
            return
        await lab.say(f"{victim} took a 3-second job. Crashing {victim} now, mid-job.")
        await request_crash(self.redis, self.keys, victim)
        timeout = self.settings.visibility_timeout
        await lab.say(
            "Its job stays pending in the stream. Once it has been idle for the "
            f"visibility timeout ({timeout:g} s), another worker takes it over."
        )
        rescuer = await lab.wait_finished("dies", within=timeout + 20)
        if rescuer is None:
            await lab.say("The job has not finished yet; it is still pending, not lost.")
            return
        await lab.say(f"{rescuer} took the job over and finished it. Nothing was lost.")


async def _until(condition: Callable[[], bool], within: float) -> None:
    """Narration paces itself on what the visitor sees; a short poll is plenty for that."""
    for _ in range(int(within / 0.2)):
        if condition():
            return
        await asyncio.sleep(0.2)
