"""The web process's event hub: one pub/sub subscription for the whole process.

Each web process has an instance id and subscribes to its own channel (and to the job feed's,
see `feed`). Producers (workers, subscribers, other web processes) publish a session's events on
the channel of the instance that holds that session's socket, so results reach their sender and
no other, with no knowledge of web processes on the producer side. The hub hands each event to
the local session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core.events import SEQ_TTL_FACTOR, SessionEvents
from backend.core.keys import Keys
from backend.core.listener import ChannelListener
from backend.core.loops import every
from backend.sessions.feed import KEEP_ALIVE, JobFeed
from backend.settings import Settings

log = logging.getLogger("courier.hub")


class Sink(Protocol):
    """A local session the hub delivers to."""

    last_seq: int

    def deliver(self, event: str) -> None: ...

    def supersede(self) -> None: ...


class EventHub:
    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self.instance = secrets.token_hex(6)
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.events = SessionEvents(redis, keys, settings)
        self.sinks: dict[str, Sink] = {}
        self.feed = JobFeed(redis, keys)
        channels = [keys.instance(self.instance), self.feed.channel]
        self.listener = ChannelListener(redis, channels, self._on_message, self._catch_up)

    async def run(self) -> None:
        """The listener and the route refresher; runs for the life of the web process."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.listener.run())
            refresh = every(
                self.settings.session_ttl / 3, self._refresh_routes, log=log, what="route refresh"
            )
            group.create_task(refresh)
            feed = every(KEEP_ALIVE, self.feed.keep_alive, log=log, what="job feed refresh")
            group.create_task(feed)

    async def ready(self, within: float = 5.0) -> bool:
        """True once subscribed, so no event routed here can be missed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.listener.subscribed.wait()
        return self.listener.subscribed.is_set()

    def register(self, session: str, sink: Sink) -> None:
        previous = self.sinks.get(session)
        self.sinks[session] = sink
        if previous is not None and previous is not sink:
            previous.supersede()

    def unregister(self, session: str, sink: Sink) -> bool:
        """False when another connection has taken the session over (it keeps the route)."""
        if self.sinks.get(session) is sink:
            del self.sinks[session]
            return True
        return False

    def _on_message(self, channel: str, data: str) -> None:
        if channel == self.feed.channel:
            self.feed.deliver(data)
            return
        session, _, event = data.partition("\n")
        sink = self.sinks.get(session)
        if sink is not None:
            sink.deliver(event)

    async def _catch_up(self) -> None:
        """After a pub/sub outage: route local sessions here again and replay what they missed."""
        for session, sink in list(self.sinks.items()):
            try:
                _, missed = await self.events.attach(session, self.instance, sink.last_seq)
            except RedisError as exc:
                log.warning("could not catch up session %s: %s", session, exc)
                continue
            for event in missed:
                sink.deliver(event)
        log.info("caught up %d sessions after reconnecting", len(self.sinks))

    async def _refresh_routes(self) -> None:
        """Keeps the routes and logs of connected sessions from expiring."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for session in list(self.sinks):
                pipe.expire(self.keys.session_route(session), self.settings.session_ttl)
                seq_ttl = self.settings.session_ttl * SEQ_TTL_FACTOR
                pipe.expire(self.keys.session_seq(session), seq_ttl)
                pipe.expire(self.keys.session_log(session), self.settings.session_ttl)
            await pipe.execute()
