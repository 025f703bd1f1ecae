"""Session events: numbering, the resume log, and routing to the web process holding the socket.

The atomic work happens in Lua, in the session's own hash slot (see `scripts.sessions`). What
comes back says where the session's socket is: the calling web process itself (it delivers the
events in-process, no round trip through Redis), another web process (on a single Redis the
script has already published to it; on a cluster the events are published here, with SPUBLISH
on that instance's channel), or nowhere (the events wait in the log for a resume).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core.autopipeline import BatchedScript, ScriptPipeline
from backend.core.connection import is_cluster
from backend.core.keys import Keys
from backend.core.loops import patiently
from backend.core.scripts import sessions as scripts
from backend.settings import Settings

# The seq counter outlives the log by this factor (see scripts.EMIT's SEQ_TTL).
SEQ_TTL_FACTOR = 100

Deliver = Callable[[str, list[str]], None]  # (session, events): hand them to a local socket


def encode(event: dict[str, Any]) -> str:
    """Compact JSON for an event body; `emit` prepends its `seq`."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def event_seq(event: str) -> int:
    """The seq of an emitted event, read from its fixed `{"seq":N,` prefix without parsing."""
    return int(event[7 : event.index(",", 7)])


class SessionEvents:
    """The events side of Redis, shared by web processes, workers and subscribers. A web
    process passes its instance id and `deliver`, so events for its own sessions skip Redis."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        settings: Settings,
        instance: str = "",
        deliver: Deliver | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.instance = instance
        self.deliver = deliver
        self.cluster = is_cluster(redis)
        root = "" if self.cluster else keys.instance("")
        self.head: list[str | int] = [settings.session_ttl, settings.session_log_max, root]
        self.patience = settings.outcome_wait  # how long a reply whose call was lost is retried
        self.pipeline = ScriptPipeline(redis)
        self._emit = self.script(scripts.EMIT_ONE)
        self._emit_job = self.script(scripts.EMIT_JOB)
        self._emit_reply = self.script(scripts.EMIT_REPLY)
        self._attach = self.script(scripts.ATTACH)
        self._detach = self.script(scripts.DETACH)
        self._forget = self.script(scripts.FORGET)

    def script(self, source: str) -> BatchedScript:
        return self.pipeline.script(source)

    def _args(self, session: str, *more: str | int | float) -> list[str | int | float]:
        return [*self.head, session, self.instance, *more]

    async def emit(self, session: str, event: dict[str, Any], logged: bool = True) -> None:
        """Sends one event to a session; `logged=False` for events that make no sense replayed."""
        if not session:
            return
        keys = self.keys.session(session).emit
        args = self._args(session, encode(event), "1" if logged else "0")
        await self.route(session, await self._emit(keys=keys, args=args))

    async def reply(
        self, session: str, reply_id: str, event: dict[str, Any], patience: float = 0.0
    ) -> None:
        """A reply to one client message, logged so that a resume replays it. If Redis fails
        the call, it is made again for up to `patience` seconds; the script then returns the
        reply already logged under `reply_id` (if the failed call ran), so it is numbered once."""
        keys, body = self.keys.session(session).emit, encode(event)

        async def call(again: bool) -> Any:
            args = self._args(session, body, "1", reply_id, "1" if again else "0")
            return await self._emit(keys=keys, args=args)

        reply, _ = await self._again_if_lost(call, patience)
        await self.route(session, reply)

    async def emit_job(
        self,
        session: str,
        job_id: str,
        step: int,
        body: str,
        *,
        final: bool = False,
        first: str = "",
        parked: bool = False,
        patience: float = 0.0,
    ) -> None:
        """One event of a job (or of a pub/sub message), at most once and in step order; `first`
        goes before it if the session has heard nothing of the job yet (its `accepted`). A call
        whose reply is lost is made again for up to `patience` seconds (harmless: at most once);
        if the lost one had emitted the event, it is read back from the log."""
        if not session:
            return
        keys, args = self.job_call(
            session, job_id, step, body, final=final, first=first, parked=parked
        )

        async def call(again: bool) -> Any:
            return await self._emit_job(keys=keys, args=args)

        reply, again = await self._again_if_lost(call, patience)
        if again and not reply[1]:
            await self.deliver_tail(session)
            return
        await self.route(session, reply)

    def job_call(
        self,
        session: str,
        job_id: str,
        step: int,
        body: str,
        *,
        final: bool = False,
        first: str = "",
        parked: bool = False,
    ) -> tuple[list[str], list[str | int | float]]:
        """KEYS and ARGV of `EMIT_JOB` (for `emit_job`, or a script combined with it)."""
        owned = self.keys.session(session)
        keys = [*owned.emit, owned.jobs, *([owned.parked(job_id)] if parked else [])]
        args = self._args(session, job_id, step, "1" if final else "0", body, first, time.time())
        return keys, args

    async def deliver_tail(self, session: str) -> None:
        """Hands the session's last logged events to its socket here, if any: after a call whose
        reply was lost, what it emitted is found there (the writer skips what it sent)."""
        if self.deliver is not None:
            self.deliver(session, await self.tail(session))

    async def _again_if_lost(
        self, call: Callable[[bool], Awaitable[Any]], patience: float
    ) -> tuple[Any, bool]:
        """(the call's reply, whether it had to be made again)."""
        try:
            return await call(False), False
        except (RedisError, OSError):
            if not patience:
                raise
        return await patiently(lambda: call(True), patience), True

    async def tail(self, session: str, count: int = 256) -> list[str]:
        """The session's last logged events, oldest first (the writer skips those it sent)."""
        rows: Any = await self.redis.xrevrange(self.keys.session(session).log, count=count)
        return [str(fields["e"]) for _, fields in reversed(rows)]

    async def emit_reply(self, session: str, message_id: str, body: str) -> None:
        """A subscriber's reply, sent after the sender's `accepted` for that message."""
        if not session:
            return
        owned = self.keys.session(session)
        keys = [*owned.emit, owned.jobs, owned.parked(message_id)]
        reply = await self._emit_reply(keys=keys, args=self._args(session, message_id, body))
        await self.route(session, reply)

    async def route(self, session: str, reply: Any) -> None:
        """Hands an emitting script's events to the socket (see the module's docstring)."""
        route, events = str(reply[0]), list(reply[1])
        if not events or not route:
            return
        if route == self.instance and self.deliver is not None:
            self.deliver(session, events)
        elif self.cluster:
            channel = self.keys.instance(route)
            for event in events:
                await self.pipeline.command("SPUBLISH", channel, f"{session}\n{event}")

    async def attach(
        self, session: str, instance: str, after: int
    ) -> tuple[int, list[str], list[str], str]:
        """Routes the session to `instance`; returns the cursor, the events after it, the jobs
        the session has not yet been told the end of, and where it was routed before."""
        owned = self.keys.session(session)
        reply = await self._attach(
            keys=[*owned.emit, owned.jobs], args=self._args(session, instance, after)
        )
        return int(reply[0]), list(reply[1]), list(reply[2]), str(reply[3])

    async def detach(self, session: str, instance: str) -> None:
        await self._detach(keys=self.keys.session(session).emit, args=self._args(session, instance))

    async def forget(self, session: str, job_id: str) -> None:
        """The job's events may be told again (it was revived from the dead letters)."""
        if session:
            owned = self.keys.session(session)
            await self._forget(keys=[*owned.emit, owned.jobs], args=self._args(session, job_id))

    async def since(self, session: str, after: int) -> list[str]:
        """Logged events with seq > after (to catch up after a pub/sub reconnect)."""
        log = self.keys.session(session).log
        rows: Any = await self.redis.xrange(log, f"{after + 1}-0", "+")
        return [str(fields["e"]) for _, fields in rows]
