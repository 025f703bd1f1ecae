"""Chat rooms: join, leave, chat and presence, over Redis so they span every web process.

Each web process remembers which of its sessions are in which room, refreshes their presence
every few seconds, and sweeps the rooms it takes part in: members whose web process died stop
being refreshed and are dropped (and the others told) within `presence_timeout` seconds.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import defaultdict

from backend.core.events import SessionEvents
from backend.core.keys import Keys
from backend.core.loops import every
from backend.core.rejected import Rejected
from backend.core.scripts import rooms as scripts
from backend.settings import Settings

log = logging.getLogger("courier.rooms")

HISTORY_MAX = 50


class Rooms:
    def __init__(self, events: SessionEvents, keys: Keys, settings: Settings) -> None:
        self.events = events
        self.keys = keys
        self.stale = settings.presence_timeout
        self.local: dict[str, dict[str, str]] = defaultdict(dict)  # room -> session -> name
        self._join = events.script(scripts.JOIN)
        self._leave = events.script(scripts.LEAVE)
        self._chat = events.script(scripts.CHAT)
        self._sweep = events.script(scripts.SWEEP)
        self._refresh = events.script(scripts.REFRESH)

    def _keys(self, room: str) -> list[str]:
        k = self.keys
        return [k.room_presence(room), k.room_names(room), k.room_history(room), k.rooms]

    async def join(self, room: str, session: str, name: str) -> None:
        reply = await self._join(
            keys=self._keys(room),
            args=[*self.events.context, room, session, name, time.time(), self.stale, HISTORY_MAX],
        )
        if reply == "taken":
            raise Rejected("name_taken", f"{name!r} is already in room {room!r}; pick another name")
        self.local[room][session] = name

    async def leave(self, room: str, session: str) -> bool:
        self._forget(room, session)
        reply = await self._leave(
            keys=self._keys(room)[:2],
            args=[*self.events.context, room, session, time.time(), self.stale],
        )
        return bool(reply)

    async def chat(self, room: str, session: str, text: str, ref: object) -> int:
        now = time.time()
        reply = await self._chat(
            keys=self._keys(room),
            args=[
                *self.events.context,
                room,
                session,
                uuid.uuid4().hex[:16],
                text,
                f"{now:.3f}",
                now,
                self.stale,
                HISTORY_MAX,
                json.dumps(ref),
            ],
        )
        if int(reply) < 0:
            raise Rejected("not_in_room", f"join room {room!r} before chatting in it")
        return int(reply)

    async def leave_all(self, session: str) -> None:
        """A closed socket leaves every room it was in."""
        for room in [r for r, members in self.local.items() if session in members]:
            await self.leave(room, session)

    def _forget(self, room: str, session: str) -> None:
        members = self.local.get(room)
        if members is not None:
            members.pop(session, None)
            if not members:
                del self.local[room]

    async def run(self) -> None:
        """Refreshes this process's members and sweeps out dead processes' ones, forever."""
        await every(self.stale / 4, self.refresh_and_sweep, log=log, what="presence refresh")

    async def refresh_and_sweep(self) -> None:
        now = time.time()
        for room, members in list(self.local.items()):
            pairs = [item for session, name in members.items() for item in (session, name)]
            await self._refresh(
                keys=self._keys(room), args=[*self.events.context, room, now, *pairs]
            )
        for room in list(self.local):
            await self._sweep(
                keys=self._keys(room)[:2], args=[*self.events.context, room, now, self.stale]
            )

    async def active(self, limit: int = 20) -> list[str]:
        """Rooms with recent activity, newest first, for the room picker."""
        rooms = await self.events.redis.zrevrange(self.keys.rooms, 0, limit - 1)
        return [str(room) for room in rooms]
