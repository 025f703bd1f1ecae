"""Pub/sub sends: a message goes to whoever is subscribed to its topic right now, and to
nobody else, ever. The sender learns how many received it (PUBLISH's reply)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from pydantic import BaseModel
from redis.exceptions import RedisError

from backend.core.events import SessionEvents, encode
from backend.core.keys import Keys
from backend.core.turns import Turn


class Broadcast(BaseModel):
    """What subscribers receive on a topic channel."""

    id: str
    topic: str
    text: str
    task: str
    args: dict[str, Any]
    session: str
    ref: str | int | None
    sent: float

    def encoded(self) -> str:
        return encode(self.model_dump())


class PubSubStats(BaseModel):
    published: int
    delivered: int
    lost: int


class Publisher:
    def __init__(self, events: SessionEvents, keys: Keys) -> None:
        self.events = events
        self.keys = keys
        self.publish_command = "SPUBLISH" if events.cluster else "PUBLISH"

    async def publish(
        self,
        topic: str,
        text: str,
        *,
        task: str = "uppercase",
        args: dict[str, Any] | None = None,
        session: str = "",
        ref: str | int | None = None,
        turn: Turn | None = None,
    ) -> tuple[str, int]:
        """Publishes, then tells the session `accepted` with `receivers`; returns (id,
        receivers). A subscriber's reply that comes before the `accepted` waits for it."""
        message = Broadcast(
            id=uuid.uuid4().hex,
            topic=topic,
            text=text,
            task=task,
            args=args or {},
            session=session,
            ref=ref,
            sent=time.time(),
        )
        command = self.events.pipeline.command
        receivers = int(await command(self.publish_command, self.keys.topics, message.encoded()))
        body, patience = accepted(message, receivers), self.events.patience
        telling = self.events.emit_job(
            session, message.id, 0, body, final=True, parked=True, patience=patience
        )
        await asyncio.gather(
            self._count(receivers), turn.send(telling) if turn is not None else telling
        )
        return message.id, receivers

    async def _count(self, receivers: int) -> None:
        """The counters are a courtesy: losing one must not turn a sent message into an error."""
        command, stats = self.events.pipeline.command, self.keys.pubsub_stats
        with contextlib.suppress(RedisError, OSError):
            await asyncio.gather(
                command("HINCRBY", stats, "published", 1),
                command("HINCRBY", stats, "delivered", receivers),
                command("HINCRBY", stats, "lost", 0 if receivers else 1),
            )

    async def stats(self) -> PubSubStats:
        row: Any = await self.events.redis.hgetall(self.keys.pubsub_stats)
        return PubSubStats(**{k: int(row.get(k, 0)) for k in ("published", "delivered", "lost")})


def accepted(message: Broadcast, receivers: int) -> str:
    event = {"type": "accepted", "ref": message.ref, "id": message.id, "mode": "pubsub"}
    return encode({**event, "receivers": receivers})
