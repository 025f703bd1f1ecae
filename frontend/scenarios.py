"""The lab's guided scenarios: each a short script of real actions (pause, send, crash) with a
plain-language narration of what the visitor is seeing and why.

A narration states what was measured, never what was expected: counts come from the events this
page received for the scenario's own messages (their refs share a prefix, see `Tally`), consumer
states from the heartbeats; an explanation (why one worker took a whole burst) follows the numbers.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from redis.asyncio import Redis

from backend.core.consumers import Consumer, ConsumerKind, ConsumerState, list_consumers
from backend.core.control import ALL, request_crash, set_paused
from backend.core.keys import Keys
from backend.settings import Settings

Which = Literal["started", "finished"]
RESULTS_WITHIN = 20.0  # seconds a scenario waits for its messages' results before narrating
PREFETCH = (
    "Why so uneven: a worker asks the queue for as many jobs as it has free slots "
    "(COURIER_WORKER_CONCURRENCY, 16 by default) in one read, so a burst arriving at once can "
    "all go to the first worker that asks. That is prefetch, not unfairness: under sustained "
    "load, or with fewer slots (courier worker --concurrency 1), the jobs spread."
)


@dataclass
class Tally:
    """What the page saw of one scenario's messages (refs with its prefix) in one lane."""

    waiting: int = 0  # not yet taken by any worker, nor finished
    done: int = 0  # with at least one final result (queue) or reply (pub/sub)
    published: int = 0  # pub/sub messages published (their `accepted` event arrived)
    unheard: int = 0  # pub/sub messages Redis delivered to nobody
    delivered: int = 0  # pub/sub copies Redis delivered, over all the messages
    by: Counter[str] = field(default_factory=Counter)  # final results per consumer


class Lab(Protocol):
    """What a scenario drives: the lab session of the visitor who clicked."""

    async def say(self, text: str) -> None: ...

    def send_both(self, text: str, count: int, prefix: str = "") -> None: ...

    def send_job(self, ref: str, task: str, args: dict[str, object]) -> None: ...

    async def wait(self, ref: str, which: Which, within: float) -> str | None: ...

    def tally(self, lane: str, prefix: str) -> Tally: ...


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

    async def _settle(self, paused: bool, within: float = 6.0) -> tuple[list[str], list[str], bool]:
        """Waits until every live consumer reports the wished state in its heartbeat. Returns
        the live workers and subscribers, and whether they all report it."""
        deadline = time.monotonic() + within
        while True:
            workers = await self._consumers(ConsumerKind.WORKER)
            subscribers = await self._consumers(ConsumerKind.SUBSCRIBER)
            states = [c.state is ConsumerState.PAUSED for c in [*workers, *subscribers]]
            settled = all(state == paused for state in states)
            if settled or time.monotonic() >= deadline:
                return [c.id for c in workers], [c.id for c in subscribers], settled
            await asyncio.sleep(0.2)

    async def nobody_listening(self, lab: Lab) -> None:
        prefix = _prefix("nobody")
        await lab.say("Pausing every worker and subscriber, so nobody is consuming.")
        await set_paused(self.redis, self.keys, ALL, True)
        try:
            await self._paused_part(lab, prefix)
        finally:  # even if the tab closes mid-way: never leave the deployment paused
            await asyncio.shield(set_paused(self.redis, self.keys, ALL, False))
        workers, _, _ = await self._settle(paused=False)
        await _until(lambda: lab.tally("queue", prefix).done >= 5, within=15)
        queue, pubsub = lab.tally("queue", prefix), lab.tally("pubsub", prefix)
        head = "The queue drained: 5" if queue.done == 5 else f"After 15 s, {queue.done}"
        spread = _spread(queue.by, workers)
        await lab.say(f"{head} of the 5 jobs were done{_once(queue)}: {spread}.")
        await _explain_spread(lab, queue.by, workers)
        await lab.say(
            f"Pub/sub: {pubsub.by.total()} replies to its 5 messages, now that subscribers listen "
            f"again: {_of(pubsub.unheard, 5)} reached nobody, and those stay lost."
        )

    async def _paused_part(self, lab: Lab, prefix: str) -> None:
        """Sends while nobody consumes, and says what became of the messages."""
        workers, subscribers, settled = await self._settle(paused=True)
        who = f"{_count(len(workers), 'worker')} and {_count(len(subscribers), 'subscriber')}"
        if settled:
            await lab.say(f"{who} report paused.")
        else:
            await lab.say(f"Of {who}, not all report paused after 6 s; going on anyway.")
        await lab.say("Sending 5 messages to both lanes.")
        lab.send_both("nobody listening", 5, prefix)
        await asyncio.sleep(2)
        queue, pubsub = lab.tally("queue", prefix), lab.tally("pubsub", prefix)
        await lab.say(
            f"After 2 s, {_of(queue.waiting, 5)} jobs are waiting in the queue; pub/sub lost "
            f"{_of(pubsub.unheard, 5)}: Redis delivered them to nobody."
        )
        await lab.say("Resuming every consumer.")

    async def three_consumers(self, lab: Lab) -> None:
        prefix = _prefix("three")
        await set_paused(self.redis, self.keys, ALL, False)
        workers, subscribers, _ = await self._settle(paused=False)
        await lab.say(
            f"{_count(len(workers), 'worker')} and {_count(len(subscribers), 'subscriber')} are "
            "running (courier run --workers 3 --subscribers 3 gives three of each). "
            "Sending 9 messages to both lanes."
        )
        lab.send_both("spread", 9, prefix)
        await _until(lambda: _all_in(lab, prefix, 9), within=RESULTS_WITHIN)
        queue, pubsub = lab.tally("queue", prefix), lab.tally("pubsub", prefix)
        spread = _spread(queue.by, workers)
        if queue.done == 9:
            await lab.say(f"Queue: all 9 jobs finished{_once(queue)}: {spread}.")
        else:
            await lab.say(f"Queue: after {RESULTS_WITHIN:g} s, {queue.done} of the 9 jobs had "
                          f"finished{_once(queue)} ({spread}); the rest are still queued or "
                          "running.")  # fmt: skip
        await _explain_spread(lab, queue.by, workers)
        await lab.say(
            f"Pub/sub: {pubsub.published} messages published, {pubsub.delivered} copies delivered "
            f"by Redis, {pubsub.by.total()} replies: {_spread(pubsub.by, subscribers)}."
        )

    async def worker_dies(self, lab: Lab) -> None:
        ref = _prefix("dies") + "job"
        await set_paused(self.redis, self.keys, ALL, False)
        workers = await self._consumers(ConsumerKind.WORKER)
        if len(workers) < 2:
            found = _count(len(workers), "worker")
            await lab.say(f"This scenario needs at least two workers running; {found} found.")
            return
        lab.send_job(ref, "sleep", {"seconds": 3})
        victim = await lab.wait(ref, "started", within=10)
        if victim is None:
            await lab.say("No worker took the job within 10 s; is every worker paused?")
            return
        await lab.say(f"{victim} took a 3-second job. Crashing {victim} now, mid-job.")
        crashed = time.monotonic()
        await request_crash(self.redis, self.keys, victim)
        await self._watch_death(lab, victim, ref)
        timeout = self.settings.visibility_timeout
        await lab.say(
            "A job whose worker stopped is taken over by another worker once it has been idle "
            f"for the visibility timeout ({timeout:g} s). Waiting for that."
        )
        rescuer = await lab.wait(ref, "finished", within=timeout + 20)
        waited = time.monotonic() - crashed
        results = lab.tally("queue", ref).by.total()
        if rescuer is None:
            await lab.say(f"{waited:.0f} s after the crash the job has no result yet.")
        elif rescuer == victim:
            await lab.say(f"{victim} finished the job itself: the crash did not come in time.")
        else:
            await lab.say(f"{rescuer} took the job over and finished it {waited:.1f} s after the "
                          f"crash: {_count(results, 'result')}, nothing lost.")  # fmt: skip

    async def _watch_death(self, lab: Lab, victim: str, ref: str) -> None:
        """Says when the crashed worker's heartbeat stops, and what its job looks like then."""
        within = self.settings.heartbeat_timeout + 5
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if victim not in [c.id for c in await self._consumers(ConsumerKind.WORKER)]:
                done = lab.tally("queue", ref).done
                state = "already has a result" if done else "has no result yet"
                await lab.say(f"{victim} stopped beating: it is gone. Its job {state}.")
                return
            await asyncio.sleep(0.2)
        await lab.say(f"{victim} still beats after {within:g} s: it has not crashed.")


def _prefix(scenario: str) -> str:
    """Refs of one run of a scenario: distinct from every other run's and from job ids."""
    return f"{scenario}-{secrets.token_hex(3)}-"


def _all_in(lab: Lab, prefix: str, count: int) -> bool:
    """Every queue job finished, every pub/sub message published and every copy answered."""
    queue, pubsub = lab.tally("queue", prefix), lab.tally("pubsub", prefix)
    replies = pubsub.by.total()
    return queue.done >= count and pubsub.published >= count and replies >= pubsub.delivered


async def _explain_spread(lab: Lab, by: Counter[str], workers: list[str]) -> None:
    """After an uneven spread (measured), why a queue can hand a whole burst to one worker."""
    counts = [by[w] for w in workers]
    if len(counts) > 1 and max(counts) - min(counts) > 1:
        await lab.say(PREFETCH)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _of(n: int, total: int) -> str:
    return f"all {total}" if n == total else f"{n} of the {total}"


def _once(tally: Tally) -> str:
    extra = tally.by.total() - tally.done  # results beyond each job's first
    if not tally.done:
        return ""
    return ", each exactly once" if not extra else f", with {extra} duplicate results"


def _spread(by: Counter[str], consumers: list[str]) -> str:
    """ "8 by worker:a:1, 1 by worker:a:2, 0 by worker:a:3": busiest first, idle ones too."""
    everyone = [*consumers, *(c for c in by if c not in consumers)]
    ranked = sorted(everyone, key=lambda c: (-by[c], c))
    return ", ".join(f"{by[c]} by {c}" for c in ranked) or "no consumer running"


async def _until(condition: Callable[[], bool], within: float) -> None:
    """Narration paces itself on what the visitor sees; a short poll is plenty for that."""
    for _ in range(int(within / 0.2)):
        if condition():
            return
        await asyncio.sleep(0.2)
