"""A process's pub/sub listener: one connection, a set of channels, reconnection by itself.

After an outage it subscribes again with backoff and tells its owner (`on_reconnect`), which
can then catch up on what was published meanwhile (pub/sub itself keeps nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from backend.core.loops import stop_if_cancelled

log = logging.getLogger("courier.listener")

BACKOFF_MAX = 5.0


class ChannelListener:
    """Calls `on_message(channel, data)` for each message on `channels` (or on channels that
    match `patterns`)."""

    def __init__(
        self,
        redis: Redis,
        channels: list[str],
        on_message: Callable[[str, str], None],
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
        patterns: list[str] | None = None,
    ) -> None:
        self.redis = redis
        self.channels = channels
        self.patterns = patterns or []
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self.subscribed = asyncio.Event()
        self.failures = 0

    async def run(self) -> None:
        while True:
            stop_if_cancelled()
            pubsub = self.redis.pubsub()
            try:
                if self.channels:
                    await pubsub.subscribe(*self.channels)
                if self.patterns:
                    await pubsub.psubscribe(*self.patterns)
                await self._listen(pubsub)
            except (RedisError, OSError) as exc:
                if self.failures == 0:
                    log.warning("pub/sub connection lost (%s); reconnecting", exc)
                self.failures += 1
            finally:
                self.subscribed.clear()
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(min(BACKOFF_MAX, 0.05 * 2**self.failures))

    async def _listen(self, pubsub: PubSub) -> None:
        while True:
            stop_if_cancelled()
            message = await pubsub.get_message(timeout=None)
            if message is None:
                continue
            if message["type"] in ("message", "pmessage"):
                self.on_message(message["channel"], message["data"])
            elif message["type"] in ("subscribe", "psubscribe") and message["data"] == 1:
                await self._connected()

    async def _connected(self) -> None:
        """First channel confirmed on a connection: the first one, or redis-py's own reconnect
        (it re-subscribes by itself), or ours after an error."""
        again = self.subscribed.is_set() or self.failures > 0
        self.subscribed.set()
        self.failures = 0
        if again:
            log.info("pub/sub connection restored")
            if self.on_reconnect is not None:
                await self.on_reconnect()
