"""A web process's chat rooms: its own members, and one subscription per room they are in.

Each room event is published once in Redis and reaches each web process with members in the
room once; the hub here hands the same text to every local member's socket, so a message costs
Redis one publish however many members the room has. A joining member is told the room as of
one offset (history and the member list), then every event after it, in offset order; events
that arrive while its join is still on the way wait for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from backend.core.listener import ChannelListener
from backend.core.loops import every
from backend.core.rooms import Joined, Rooms, message_id, offset_of
from backend.sessions.inorder import InOrder
from backend.sessions.presence import Change, Gathering, change_of, gathering_time
from backend.sessions.roomviews import history_event, presence_event

log = logging.getLogger("courier.rooms")

TOUCH_EVERY = 10.0  # seconds between marks of a room as active, per web process
MINE_MAX = 10_000  # senders' messages waiting to come back, at most


class RoomSink(Protocol):
    def deliver_room(self, event: str) -> None: ...


@dataclass
class Member:
    name: str
    sink: RoomSink
    seen: int = -1  # the last offset given to it; -1 until its join is answered
    waiting: list[str] = field(default_factory=list)  # events that came before that
    changes: list[Gathering] = field(default_factory=list)  # presence changes, likewise


class RoomHub:
    def __init__(self, rooms: Rooms, listener: ChannelListener, sharded: bool) -> None:
        self.rooms = rooms
        self.listener = listener
        self.sharded = sharded
        self.members: dict[str, dict[str, Member]] = defaultdict(dict)  # room -> session ->
        self.order = InOrder()  # a session's join, chat and leave reach Redis as it sent them
        self.by_channel: dict[str, str] = {}
        self.mine: dict[str, tuple[str, object]] = {}  # message id -> (sender session, ref)
        self.touched: dict[str, float] = {}
        self.gathered: dict[str, Gathering] = {}  # room -> presence changes not yet told
        self.flushes: dict[str, asyncio.TimerHandle] = {}

    def is_room_channel(self, channel: str) -> bool:
        return channel in self.by_channel

    async def join(
        self, room: str, session: str, name: str, sink: RoomSink, since: tuple[int, str] | None
    ) -> None:
        async with self.order.turn(room, session):
            await self._join(room, session, name, sink, since)

    async def _join(
        self, room: str, session: str, name: str, sink: RoomSink, since: tuple[int, str] | None
    ) -> None:
        """Subscribes first, so nothing published after the join's offset is missed."""
        channel = self.rooms.channel(room)
        self.by_channel[channel] = room
        previous = self.members[room].get(session)
        was = None if previous is None else (previous.sink, previous.seen)
        member = previous
        if member is None or member.name != name:
            member = self.members[room][session] = Member(name, sink)
        member.sink, member.seen = sink, -1
        try:
            await self.listener.subscribe(channel, self.sharded)
            joined = await self.rooms.join(room, session, name, since)
        except BaseException:
            if previous is None or was is None:
                self._forget(room, session)
            else:  # a refused re-join (say, `name_taken`) leaves the member as it was
                previous.sink, previous.seen = was
                self.members[room][session] = previous
            raise
        self._welcome(room, member, joined)
        await self._touch(room)

    def _welcome(self, room: str, member: Member, joined: Joined) -> None:
        if joined.recovered:
            for event in joined.missed:
                member.sink.deliver_room(event)
        else:
            member.sink.deliver_room(history_event(room, joined.view))
        member.sink.deliver_room(presence_event(room, joined.view, joined.recovered))
        member.seen = joined.offset
        waiting, gathered = member.waiting, member.changes
        member.waiting, member.changes = [], []
        came = [(offset_of(event), event) for event in waiting]
        for gathering in gathered:  # each gathering told on its own, as the others got it
            came += [(offset, event) for event, offset in gathering.after(joined.offset)]
        for offset, event in sorted(came, key=lambda pair: pair[0]):
            self._give(member, event, offset)

    async def leave(self, room: str, session: str) -> bool:
        """The leaver is told too, in order (whichever way its `left` comes first)."""
        async with self.order.turn(room, session):
            left = await self.rooms.leave(room, session)
            self._flush(room)  # what was gathered comes before the leaver's own `left`
            member = self.members.get(room, {}).get(session)
            if left is not None and member is not None and member.seen >= 0:
                self._give(member, left, offset_of(left))
            self._forget(room, session)
        return left is not None

    async def leave_all(self, session: str) -> None:
        """A closed socket leaves every room it was in."""
        for room in [r for r, members in self.members.items() if session in members]:
            await self.leave(room, session)

    def drop(self, session: str, sink: RoomSink) -> None:
        """A closed connection's memberships here end with it, whether or not Redis heard of it
        (Redis down, or the session resumed elsewhere): a member left behind would hold the
        connection's memory and be refreshed as present. A newer connection of the session
        keeps what it has joined; its presence in Redis expires unless refreshed."""
        for room, members in list(self.members.items()):
            member = members.get(session)
            if member is not None and member.sink is sink:
                self._forget(room, session)

    async def chat(self, room: str, session: str, text: str, ref: object) -> None:
        """The sender's own copy is marked (`mine`, its `ref`) when it comes back."""
        async with self.order.turn(room, session):
            message = uuid.uuid4().hex[:16]
            self.mine[message] = (session, ref)
            while len(self.mine) > MINE_MAX:  # copies that never came back (a pub/sub outage)
                del self.mine[next(iter(self.mine))]
            try:
                await self.rooms.chat(room, session, message, text)
            except BaseException:
                self.mine.pop(message, None)
                raise
        await self._touch(room)

    def _forget(self, room: str, session: str) -> None:
        members = self.members.get(room)
        if members is None:
            return
        members.pop(session, None)
        if not members:
            del self.members[room]
            self._flush(room)  # to nobody: drops what was gathered, and its timer
            channel = self.rooms.channel(room)
            self.by_channel.pop(channel, None)
            task = asyncio.ensure_future(self.listener.unsubscribe(channel, self.sharded))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # Fan-out -----------------------------------------------------------------------------------

    def deliver(self, channel: str, event: str) -> None:
        room = self.by_channel.get(channel)
        members = self.members.get(room) if room else None
        if not members or room is None:
            return
        change = change_of(event)
        if change is not None:
            self._gather(room, change)
            return
        self._flush(room)  # presence first: the room's order holds
        offset = offset_of(event)
        message = message_id(event)
        sender, ref = self.mine.pop(message, ("", None)) if message else ("", None)
        own = members.get(sender) if sender else None
        if own is not None:  # first: the sender hears soonest that its message went out
            self._give(own, f'{event[:-1]},"mine":true,"ref":{json.dumps(ref)}}}', offset)
        for member in members.values():
            if member is not own:
                self._give(member, event, offset)

    def _gather(self, room: str, change: Change) -> None:
        self.gathered.setdefault(room, Gathering(room)).changes.append(change)
        if room not in self.flushes:
            loop = asyncio.get_running_loop()
            delay = gathering_time(len(self.members.get(room, ())))
            self.flushes[room] = loop.call_later(delay, self._flush, room)

    def _flush(self, room: str) -> None:
        """Tells the gathered changes, to each member those after the last offset it saw."""
        timer, gathering = self.flushes.pop(room, None), self.gathered.pop(room, None)
        if timer is not None:
            timer.cancel()
        if gathering is None:
            return
        for member in self.members.get(room, {}).values():
            if member.seen < 0:  # its join is on the way: sorted out when it is answered
                member.changes.append(gathering)
                continue
            for event, offset in gathering.after(member.seen):
                self._give(member, event, offset)

    def _give(self, member: Member, event: str, offset: int) -> None:
        if member.seen < 0:
            member.waiting.append(event)
        elif offset > member.seen:
            member.seen = offset
            member.sink.deliver_room(event)

    async def catch_up(self) -> None:
        """After a pub/sub outage: each local member gets the room events it missed."""
        for room, members in list(self.members.items()):
            ready = [m for m in members.values() if m.seen >= 0]
            if not ready:
                continue
            for event in await self.rooms.missed(room, min(m.seen for m in ready)):
                self.deliver(self.rooms.channel(room), event)

    # Presence ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Refreshes this process's members and sweeps out dead processes' ones, forever."""
        interval = self.rooms.stale / 4
        await every(interval, self.refresh_and_sweep, log=log, what="presence refresh")

    async def refresh_and_sweep(self) -> None:
        for room, members in list(self.members.items()):
            await self.rooms.refresh(room, {s: m.name for s, m in members.items()})
            await self.rooms.sweep(room)

    async def _touch(self, room: str) -> None:
        now = asyncio.get_running_loop().time()
        if now - self.touched.get(room, -TOUCH_EVERY) >= TOUCH_EVERY:
            self.touched[room] = now
            await self.rooms.touch(room)
