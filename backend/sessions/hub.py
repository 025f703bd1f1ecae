"""The web process's event hub: its sessions, its rooms, and one listener for all of them.

Each web process has an instance id and a channel of its own (sharded on a cluster). Producers
(workers, subscribers, other web processes) send a session's events to the instance holding
that session's socket, so results reach their sender and no other, with no knowledge of web
processes on the producer side; events for this process's own sessions never leave it. The same
listener carries the rooms' channels (see `roomhub`) and the job feed (see `feed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core import job_events
from backend.core.browse import load_jobs
from backend.core.connection import is_cluster
from backend.core.events import SEQ_TTL_FACTOR, SessionEvents
from backend.core.keys import Keys
from backend.core.listener import ChannelListener
from backend.core.loops import every, patiently
from backend.core.rooms import Rooms
from backend.sessions.feed import KEEP_ALIVE, JobFeed
from backend.sessions.roomhub import RoomHub
from backend.settings import Settings

log = logging.getLogger("courier.hub")

SUPERSEDE = "!supersede"  # sent on an instance channel instead of an event
RECOVER_AFTER = 5.0  # seconds a job may go without its end before the hub checks on it
CATCH_UP_PATIENCE = 5.0  # seconds a session's catch-up is retried through a flapping Redis


class Sink(Protocol):
    """A local session the hub delivers to."""

    inflight: dict[str, float]

    @property
    def last_seq(self) -> int: ...

    def deliver(self, event: str) -> None: ...

    def deliver_room(self, event: str) -> None: ...

    def supersede(self) -> None: ...


class EventHub:
    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self.instance = secrets.token_hex(6)
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.cluster = is_cluster(redis)
        self.events = SessionEvents(redis, keys, settings, self.instance, self._deliver)
        self.sinks: dict[str, Sink] = {}
        self.feed = JobFeed(redis, keys)
        self.listener = ChannelListener(
            redis,
            self._on_message,
            self._catch_up,
            channels=[self.feed.channel],
            shard_channels=[keys.instance(self.instance)],
        )
        rooms = Rooms(redis, keys, settings, self.events.pipeline)
        self.rooms = RoomHub(rooms, self.listener, sharded=self.cluster)

    async def run(self) -> None:
        """The listener and the loops that keep sessions and rooms alive; for the life of the
        web process."""
        ttl = self.settings.session_ttl
        loops = [
            self.listener.run(),
            every(ttl / 3, self._refresh_routes, log=log, what="route refresh"),
            every(KEEP_ALIVE, self.feed.keep_alive, log=log, what="job feed refresh"),
            every(RECOVER_AFTER, self.recover, log=log, what="job end recovery"),
            self.rooms.run(),
        ]
        async with asyncio.TaskGroup() as group:
            for loop in loops:
                group.create_task(loop)

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

    async def attach(self, session: str, after: int) -> tuple[int, list[str], list[str]]:
        """Routes the session here; a connection to it on another web process is told to close."""
        cursor, missed, inflight, previous = await self.events.attach(session, self.instance, after)
        if previous and previous != self.instance:
            publish = "SPUBLISH" if self.cluster else "PUBLISH"
            message = f"{session}\n{SUPERSEDE}"
            await self.events.pipeline.command(publish, self.keys.instance(previous), message)
        return cursor, missed, inflight

    def _deliver(self, session: str, events: list[str]) -> None:
        sink = self.sinks.get(session)
        if sink is not None:
            for event in events:
                sink.deliver(event)

    def _on_message(self, channel: str, data: str) -> None:
        if channel == self.feed.channel:
            self.feed.deliver(data)
        elif self.rooms.is_room_channel(channel):
            self.rooms.deliver(channel, data)
        else:
            session, _, event = data.partition("\n")
            sink = self.sinks.get(session)
            if sink is not None:
                sink.supersede() if event == SUPERSEDE else sink.deliver(event)

    async def _catch_up(self) -> None:
        """After a pub/sub outage: route local sessions here again and replay what they missed,
        and the same for the rooms."""
        for session, sink in list(self.sinks.items()):
            try:
                _, missed, _ = await patiently(
                    functools.partial(self.attach, session, sink.last_seq), CATCH_UP_PATIENCE
                )
            except (RedisError, OSError) as exc:
                log.warning("could not catch up session %s: %s", session, exc)
                continue
            for event in missed:
                sink.deliver(event)
        await self.rooms.catch_up()
        log.info("caught up %d sessions after reconnecting", len(self.sinks))

    async def recover(self) -> None:
        """Jobs whose end did not come: if one has ended (the worker died before telling),
        its end is sent from what Redis stored. Sent at most once, whoever sends it. If it had
        been sent and missed this socket (published while the pub/sub connection was down,
        with no later event to reveal the gap), it is read back from the session's log."""
        now = time.monotonic()
        for session, sink in list(self.sinks.items()):
            late = [j for j, seen in sink.inflight.items() if now - seen > RECOVER_AFTER]
            jobs = await load_jobs(self.redis, self.keys, late) if late else []
            for gone in set(late) - {job.id for job in jobs}:  # expired: nothing left to tell
                sink.inflight.pop(gone, None)
            ended = [(job, e) for job in jobs if (e := job_events.ending(job)) is not None]
            for job, ending in ended:
                log.info("telling session %s the end of job %s", session, job.id)
                end = job_events.step(job.runs, job_events.END)
                first = job_events.accepted(job.id, job.ref)
                await self.events.emit_job(session, job.id, end, ending, final=True, first=first)
            if ended and any(job.id in sink.inflight for job, _ in ended):
                self._deliver(session, await self.events.tail(session))

    async def _refresh_routes(self) -> None:
        """Keeps the routes and logs of connected sessions from expiring."""
        ttl = self.settings.session_ttl
        async with self.redis.pipeline(transaction=False) as pipe:
            for session in list(self.sinks):
                owned = self.keys.session(session)
                pipe.expire(owned.route, ttl)
                pipe.expire(owned.seq, ttl * SEQ_TTL_FACTOR)
                pipe.expire(owned.log, ttl)
            await pipe.execute()
