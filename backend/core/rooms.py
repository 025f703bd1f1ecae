"""Chat rooms in Redis: membership, presence, history and each room's event stream.

This is the shared state only; a web process's own members and its fan-out to their sockets
live in `backend.sessions.roomhub`. Each call is one Lua script in the room's hash slot.

Joins to one room are sent one call at a time per process; the joins that come meanwhile go
together in the next call and share its view of the room. A room filling with M members at once
then costs Redis a few reads of the member list instead of M (each of up to M names: O(M²)
bytes, which in a join storm kept Redis busy for seconds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.core.autopipeline import ScriptPipeline
from backend.core.connection import is_cluster
from backend.core.keys import Keys, RoomKeys
from backend.core.rejected import Rejected
from backend.core.scripts import rooms as scripts
from backend.settings import Settings

log = logging.getLogger("courier.rooms")

HISTORY_MAX = 50  # chat messages a joining member is shown
STREAM_MAX = 2000  # room events kept for members who come back
JOIN_BATCH = 250  # joiners in one call at most, so that one call keeps Redis busy briefly


@dataclass(eq=False)
class RoomView:
    """The room as of `offset`, as the joiners of one call see it (shared by them)."""

    offset: int
    epoch: str
    names: list[str]  # sorted
    history: list[str]  # chat events, oldest first
    said: dict[str, str] = field(default_factory=dict)  # events made of it, encoded once


@dataclass(frozen=True)
class Joined:
    """What a joining member is told: the room's view, and what the member missed."""

    view: RoomView
    recovered: bool  # every event after the member's offset was still kept
    missed: list[str]  # those events, when recovered

    @property
    def offset(self) -> int:
        return self.view.offset


@dataclass
class _Joiner:
    session: str
    name: str
    since: tuple[int, str] | None
    reply: asyncio.Future[Joined]


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
        self._command = pipeline.command
        self._joiners: dict[str, list[_Joiner]] = {}  # room -> joins for its next call
        self._joining: dict[str, asyncio.Task[None]] = {}  # room -> its calls' sender

    def channel(self, room: str) -> str:
        return self.keys.room(room).channel

    def _call(self, room: str, *more: Any) -> tuple[list[str], list[Any]]:
        owned: RoomKeys = self.keys.room(room)
        head = [self.publish, room, secrets.token_hex(4), time.time(), STREAM_MAX]
        return [*owned.all, owned.channel], [*head, *more]

    async def join(
        self, room: str, session: str, name: str, since: tuple[int, str] | None = None
    ) -> Joined:
        """Joins in order with the others this process sends to the room; Rejected when the
        name is taken. A join given up before its call went out is not made."""
        reply: asyncio.Future[Joined] = asyncio.get_running_loop().create_future()
        self._joiners.setdefault(room, []).append(_Joiner(session, name, since, reply))
        if room not in self._joining:
            self._joining[room] = asyncio.create_task(self._send_joins(room))
        return await reply

    async def _send_joins(self, room: str) -> None:
        waiting: list[_Joiner] = []
        try:
            while waiting := [j for j in self._joiners.pop(room, []) if not j.reply.done()]:
                for start in range(0, len(waiting), JOIN_BATCH):
                    await self._join_some(room, waiting[start : start + JOIN_BATCH])
        finally:
            del self._joining[room]
            for joiner in waiting + self._joiners.pop(room, []):  # left only when cancelled
                joiner.reply.cancel()

    async def _join_some(self, room: str, joiners: list[_Joiner]) -> None:
        more: list[Any] = [self.stale, HISTORY_MAX]
        for joiner in joiners:
            more += [joiner.session, joiner.name, *(joiner.since or ("", ""))]
        keys, args = self._call(room, *more)
        try:
            at, epoch, names, history, *each = await self._join(keys=keys, args=args)
        except Exception as exc:  # each joiner's caller hears it
            for joiner in joiners:
                if not joiner.reply.done():
                    joiner.reply.set_exception(exc)
            return
        view = RoomView(int(at), str(epoch), sorted(names), list(reversed(history)))
        for joiner, result in zip(joiners, each, strict=True):
            if joiner.reply.done():
                continue
            if result == "taken":
                detail = f"{joiner.name!r} is already in room {room!r}; pick another"
                joiner.reply.set_exception(Rejected("name_taken", detail))
            else:
                joiner.reply.set_result(Joined(view, bool(result[0]), list(result[1])))

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
        """Marks the room active, for the room picker (kept to the newest 1000 rooms). In the
        script pipeline: joins to many rooms at once must not take a pooled connection each.
        A mark that fails is no failure of the join or chat that made it, which went through."""
        try:
            await asyncio.gather(
                self._command("ZADD", self.keys.rooms, time.time(), room),
                self._command("ZREMRANGEBYRANK", self.keys.rooms, 0, -1001),
            )
        except (RedisError, OSError) as exc:
            log.debug("room %s not marked active: %s", room, exc)

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
