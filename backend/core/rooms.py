"""Chat rooms in Redis: membership, presence, history and each room's event stream.

This is the shared state only; a web process's own members and its fan-out to their sockets
live in `backend.sessions.roomhub`. Each call is one Lua script in the room's hash slot.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from backend.core.autopipeline import ScriptPipeline
from backend.core.connection import is_cluster
from backend.core.keys import Keys, RoomKeys
from backend.core.rejected import Rejected
from backend.core.scripts import rooms as scripts
from backend.settings import Settings

HISTORY_MAX = 50  # chat messages a joining member is shown
STREAM_MAX = 2000  # room events kept for members who come back


@dataclass(frozen=True)
class Joined:
    """What a joining member is told: the room as of `offset`, and what it missed."""

    offset: int
    epoch: str
    names: list[str]
    history: list[str]  # chat events, oldest first
    recovered: bool  # every event after the member's offset was still kept
    missed: list[str]  # those events, when recovered


class Rooms:
    def __init__(
        self, redis: Redis, keys: Keys, settings: Settings, pipeline: ScriptPipeline
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.stale = settings.presence_timeout
        self.publish = "SPUBLISH" if is_cluster(redis) else "PUBLISH"
        self._join = pipeline.script(scripts.JOIN)
        self._leave = pipeline.script(scripts.LEAVE)
        self._chat = pipeline.script(scripts.CHAT)
        self._sweep = pipeline.script(scripts.SWEEP)
        self._refresh = pipeline.script(scripts.REFRESH)

    def channel(self, room: str) -> str:
        return self.keys.room(room).channel

    def _call(self, room: str, *more: Any) -> tuple[list[str], list[Any]]:
        owned: RoomKeys = self.keys.room(room)
        head = [self.publish, room, secrets.token_hex(4), time.time(), STREAM_MAX]
        return [*owned.all, owned.channel], [*head, *more]

    async def join(
        self, room: str, session: str, name: str, since: tuple[int, str] | None = None
    ) -> Joined:
        offset, epoch = since if since is not None else ("", "")
        keys, args = self._call(room, session, name, self.stale, HISTORY_MAX, offset, epoch)
        reply = await self._join(keys=keys, args=args)
        if reply[0] == "taken":
            raise Rejected("name_taken", f"{name!r} is already in room {room!r}; pick another")
        _, at, epoch, names, history, recovered, missed = reply
        return Joined(
            int(at), str(epoch), sorted(names), list(reversed(history)), bool(recovered), missed
        )

    async def leave(self, room: str, session: str) -> str | None:
        """The `left` event, or None when the session was not a member."""
        keys, args = self._call(room, session)
        event = await self._leave(keys=keys, args=args)
        return str(event) if event else None

    async def chat(self, room: str, session: str, message_id: str, text: str) -> int:
        """The message's offset in the room; Rejected when the session is not a member."""
        keys, args = self._call(room, session, message_id, text, f"{time.time():.3f}", HISTORY_MAX)
        offset = int(await self._chat(keys=keys, args=args))
        if offset < 0:
            raise Rejected("not_in_room", f"join room {room!r} before chatting in it")
        return offset

    async def refresh(self, room: str, members: dict[str, str]) -> int:
        pairs = [item for session, name in members.items() for item in (session, name)]
        keys, args = self._call(room, *pairs)
        return int(await self._refresh(keys=keys, args=args))

    async def sweep(self, room: str) -> int:
        keys, args = self._call(room, self.stale)
        return int(await self._sweep(keys=keys, args=args))

    async def missed(self, room: str, after: int) -> list[str]:
        """Room events after `offset` still kept (to catch up after a pub/sub outage)."""
        rows: Any = await self.redis.xrange(self.keys.room(room).stream, f"{after + 1}-0", "+")
        return [str(fields["e"]) for _, fields in rows]

    async def touch(self, room: str) -> None:
        """Marks the room active, for the room picker (kept to the newest 1000 rooms)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.rooms, {room: time.time()})
            pipe.zremrangebyrank(self.keys.rooms, 0, -1001)
            await pipe.execute()

    async def active(self, limit: int = 20) -> list[str]:
        """Rooms with recent activity, newest first, for the room picker."""
        rooms = await self.redis.zrevrange(self.keys.rooms, 0, limit - 1)
        return [str(room) for room in rooms]


def offset_of(event: str) -> int:
    """The offset of a room event, read from its fixed prefix `{"room":"...","offset":N,`."""
    start = event.index('"offset":') + 9
    return int(event[start : event.index(",", start)])


def message_id(event: str) -> str | None:
    """A chat event's message id, if it is one (the sender's web process marks its own copy)."""
    if '"type":"chat"' not in event:
        return None
    return str(json.loads(event).get("id"))
