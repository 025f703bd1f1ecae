"""The worker's side of the queue: reading entries, starting jobs, storing their outcome.

Guarantees, and where they come from:
- each job goes to one worker at a time: the consumer group delivers an entry to one consumer;
- nothing is lost: an entry stays pending until the script that stores the outcome acknowledges
  it, and a pending entry whose worker stopped beating is taken over (XAUTOCLAIM) after the
  visibility timeout;
- failures are retried with exponential backoff from a delay set, then dead-lettered.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from backend.core.events import SessionEvents, encode
from backend.core.keys import Keys
from backend.core.queue import GROUP, ensure_group
from backend.core.scripts import deliveries as scripts
from backend.settings import Settings


@dataclass(frozen=True)
class Delivery:
    """One stream entry handed to this worker."""

    entry: str
    job_id: str


@dataclass(frozen=True)
class Started:
    task: str
    text: str
    args: dict[str, Any]
    session: str
    ref: str | int | None
    attempt: int


@dataclass(frozen=True)
class Outcome:
    """What to store for one finished attempt: succeeded, retry or dead."""

    delivery: Delivery
    kind: str
    value: str  # result JSON, or the error
    due: float  # when a retry is due
    body: str  # the event for the sender


def _started(row: list[Any]) -> Started | None:
    if row[0] != "run":
        return None
    _, task, text, args, session, ref, attempt = row
    return Started(task, text, json.loads(args), session, json.loads(ref), int(attempt))


class Deliveries:
    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.events = SessionEvents(redis, keys, settings)
        script = self.events.script
        self._start = script(scripts.START)
        self._settle = script(scripts.SETTLE)
        self._release = script(scripts.RELEASE)
        self._promote = script(scripts.PROMOTE)
        self._progress = script(scripts.PROGRESS)
        self.reclaim_cursor = "0-0"

    async def ensure_group(self) -> None:
        await ensure_group(self.redis, self.keys)

    async def read(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        """New entries for this consumer, waiting up to `block_ms` for the first."""
        reply: Any = await self.redis.xreadgroup(
            GROUP, consumer, {self.keys.stream: ">"}, count=count, block=block_ms
        )
        if not reply:
            return []
        return [Delivery(entry, fields["job"]) for entry, fields in reply[0][1]]

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
        """Marks the jobs running and tells their senders, in one call for the whole read;
        None for a delivery with nothing to run (cancelled, or dead after too many attempts)."""
        if not deliveries:
            return []
        pairs = [item for d in deliveries for item in (d.entry, d.job_id)]
        rows = await self._start(
            keys=[self.keys.stream, self.keys.dead, self.keys.stats, *self.keys.job_tail],
            args=[*self.events.context, GROUP, consumer, time.time(), self.keys.job(""), *pairs],
        )
        return [_started(row) for row in rows]

    def succeeded(
        self, delivery: Delivery, consumer: str, started: Started, result: Any
    ) -> Outcome:
        body = encode(
            {
                "type": "result",
                "id": delivery.job_id,
                "ref": started.ref,
                "mode": "queue",
                "consumer": consumer,
                "result": result,
            }
        )
        return Outcome(delivery, "succeeded", json.dumps(result), 0.0, body)

    def failed(self, delivery: Delivery, started: Started, error: str) -> Outcome:
        final = started.attempt >= self.settings.max_attempts
        delay = min(
            self.settings.retry_backoff_max,
            self.settings.retry_backoff * 2 ** (started.attempt - 1),
        )
        event: dict[str, Any] = {
            "type": "failed",
            "id": delivery.job_id,
            "ref": started.ref,
            "mode": "queue",
            "error": error,
            "attempt": started.attempt,
            "final": final,
        }
        if not final:
            event["retry_in"] = delay
        kind = "dead" if final else "retry"
        return Outcome(delivery, kind, error, time.time() + delay, encode(event))

    async def settle(self, outcome: Outcome) -> str:
        """Stores the outcome and acknowledges the entry (only if the job is still running)."""
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
                *self.events.context,
                outcome.delivery.entry,
                GROUP,
                time.time(),
                job_id,
                outcome.kind,
                outcome.value,
                outcome.due,
                outcome.body,
            ],
        )
        return str(reply)

    async def report_progress(self, delivery: Delivery, consumer: str, fraction: float) -> bool:
        """Stores and sends progress, unless the job is no longer this worker's to run."""
        event = encode({"type": "progress", "id": delivery.job_id, "progress": fraction})
        reply = await self._progress(
            keys=[self.keys.job(delivery.job_id), *self.keys.job_tail],
            args=[*self.events.context, consumer, delivery.job_id, fraction, event],
        )
        return int(reply) == 1

    async def requeue(self, deliveries: list[Delivery]) -> None:
        """Puts entries read but not started back in the stream (the worker was paused while
        its read was waiting)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for delivery in deliveries:
                pipe.xadd(self.keys.stream, {"job": delivery.job_id})
                pipe.xack(self.keys.stream, GROUP, delivery.entry)
                pipe.xdel(self.keys.stream, delivery.entry)
            await pipe.execute()

    async def acknowledge(self, delivery: Delivery) -> str:
        """Drops a delivery whose job was cancelled (its state is already final)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.keys.stream, GROUP, delivery.entry)
            pipe.xdel(self.keys.stream, delivery.entry)
            await pipe.execute()
        return "cancelled"

    async def release(self, delivery: Delivery, consumer: str) -> bool:
        """Hands an unfinished job back to the queue (worker shutting down)."""
        reply = await self._release(
            keys=[self.keys.job(delivery.job_id), self.keys.stream, *self.keys.job_tail],
            args=[*self.events.context, delivery.entry, GROUP, consumer, delivery.job_id],
        )
        return int(reply) == 1

    async def promote_due(self, limit: int = 100) -> int:
        """Moves retries whose backoff has passed back into the stream."""
        reply = await self._promote(
            keys=[self.keys.delayed, self.keys.stream, *self.keys.job_tail],
            args=[time.time(), limit, self.keys.job("")],
        )
        return int(reply)

    async def next_due(self) -> float | None:
        first = await self.redis.zrange(self.keys.delayed, 0, 0, withscores=True)
        return float(first[0][1]) if first else None
