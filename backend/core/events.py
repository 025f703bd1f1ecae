"""Session events: numbering, logging for resume, and routing to the web instance that holds
the session's socket. The atomic work happens in Lua (see `backend.core.scripts`)."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from backend.core.autopipeline import BatchedScript, ScriptPipeline
from backend.core.keys import Keys
from backend.core.scripts import sessions as scripts
from backend.settings import Settings

# The seq counter outlives the log by this factor (see scripts.EMIT's SEQ_TTL).
SEQ_TTL_FACTOR = 100


def encode(event: dict[str, Any]) -> str:
    """Compact JSON for an event body; `emit` prepends its `seq`."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def event_seq(event: str) -> int:
    """The seq of an emitted event, read from its fixed `{"seq":N,` prefix without parsing."""
    return int(event[7 : event.index(",", 7)])


class SessionEvents:
    """The events side of Redis, shared by web processes, workers and subscribers."""

    def __init__(self, redis: Redis, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.context: list[str | int] = [
            keys.session_root,
            keys.instance_root,
            settings.session_ttl,
            settings.session_log_max,
        ]
        self.pipeline = ScriptPipeline(redis)
        self._emit = self.script(scripts.EMIT_ONE)
        self._attach = self.script(scripts.ATTACH)
        self._detach = self.script(scripts.DETACH)

    def script(self, source: str) -> BatchedScript:
        return self.pipeline.script(source)

    async def emit(self, session: str, event: dict[str, Any], logged: bool = True) -> int:
        """Sends one event to a session; `logged=False` for replies that make no sense replayed."""
        args = [*self.context, session, encode(event), "1" if logged else "0"]
        return int(await self._emit(args=args))

    async def attach(self, session: str, instance: str, after: int) -> tuple[int, list[str]]:
        """Routes the session to `instance`; returns the cursor and the events after it."""
        cursor, events = await self._attach(args=[*self.context, session, instance, after])
        return int(cursor), list(events)

    async def detach(self, session: str, instance: str) -> None:
        await self._detach(args=[*self.context, session, instance])

    async def since(self, session: str, after: int) -> list[str]:
        """Logged events with seq > after (used to catch up after a pub/sub reconnect)."""
        rows: Any = await self.redis.xrange(self.keys.session_log(session), f"{after + 1}-0", "+")
        return [str(fields["e"]) for _, fields in rows]
