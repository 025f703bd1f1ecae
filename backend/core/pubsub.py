"""Pub/sub sends: a message goes to whoever is subscribed to its topic right now, and to
nobody else, ever. The sender learns how many received it (PUBLISH's reply)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from pydantic import BaseModel

from backend.core.events import SessionEvents, encode
from backend.core.keys import Keys
from backend.core.scripts import pubsub as scripts


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


class PubSubStats(BaseModel):
    published: int
    delivered: int
    lost: int


class Publisher:
    def __init__(self, events: SessionEvents, keys: Keys) -> None:
        self.events = events
        self.keys = keys
        self._publish = events.script(scripts.PUBLISH)

    async def publish(
        self,
        topic: str,
        text: str,
        *,
        task: str = "uppercase",
        args: dict[str, Any] | None = None,
        session: str = "",
        ref: str | int | None = None,
    ) -> tuple[str, int]:
        """Publishes and tells the session `accepted` with `receivers`; returns (id, receivers)."""
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
        receivers = await self._publish(
            keys=[self.keys.pubsub_stats],
            args=[
                *self.events.context,
                self.keys.topic(topic),
                encode(message.model_dump()),
                session,
                message.id,
                json.dumps(ref),
            ],
        )
        return message.id, int(receivers)

    async def stats(self) -> PubSubStats:
        row: Any = await self.events.redis.hgetall(self.keys.pubsub_stats)
        return PubSubStats(**{k: int(row.get(k, 0)) for k in ("published", "delivered", "lost")})
