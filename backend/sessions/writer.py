"""What goes out on one socket, in order: the session's events by `seq`, and room events as
they come (each room numbers its own, by offset).

A session's events reach its web process by two ways (in-process, and over pub/sub from other
processes, each after its own script), so they can arrive out of order. The writer sends each
`seq` once, in order: one that comes early waits for the ones before it; if a gap lasts, the
missing events are read from the session's log (a lost pub/sub message costs latency, never
an event), and an event that was never logged (a reply to a message on another connection
that closed) is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from backend.core.events import event_seq

OUTBOX_MAX = 10_000  # the default of COURIER_OUTBOX_MAX
GAP_WAIT = 0.3  # seconds an early event waits before the missing ones are read from the log

Send = Callable[[str], Awaitable[None]]
ReadLog = Callable[[int], Awaitable[list[str]]]  # logged events with seq > the given one


class Overflow(Exception):
    """The client reads slower than its events come; it should resume from the log."""


class EventWriter:
    def __init__(
        self, send: Send, read_log: ReadLog, last_seq: int = 0, limit: int = OUTBOX_MAX
    ) -> None:
        self.send = send
        self.limit = limit
        self.read_log = read_log
        self.last_seq = last_seq
        # A plain list and one future while idle, not an asyncio.Queue (four deques, about
        # 3 KB): every connected socket has a writer, most of them idle.
        self.outbox: list[str] = []
        self.sending = 0  # events of the batch being sent, not yet out
        self.waiter: asyncio.Future[None] | None = None
        self.early: dict[int, str] = {}

    @property
    def idle(self) -> bool:
        """Nothing queued or on its way: an event written around the writer keeps its order."""
        return not self.outbox and not self.sending

    def put(self, event: str) -> None:
        """Raises Overflow when the outbox is full."""
        if len(self.outbox) + self.sending >= self.limit:
            raise Overflow
        self.outbox.append(event)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def run(self) -> None:
        while True:
            if not self.outbox and not await self._wait():
                await self._fill_gap()
                continue
            batch, self.outbox = self.outbox, []  # what queued meanwhile goes out in one turn
            for sent, event in enumerate(batch):
                self.sending = len(batch) - sent
                await self._out(event)
            self.sending = 0

    async def _wait(self) -> bool:
        """Until an event is put; False once an early event has waited GAP_WAIT for the ones
        before it (the timer runs only then: it is costly)."""
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(GAP_WAIT if self.early else None):
                await self.waiter
        except TimeoutError:
            return False
        finally:
            self.waiter = None
        return True

    async def _out(self, event: str) -> None:
        if event.startswith('{"seq":'):
            await self.write(event)
        else:
            await self.send(event)

    async def write(self, event: str) -> None:
        """A session event: sent now if it is the next one, held if it came early."""
        seq = event_seq(event)
        if seq <= self.last_seq:
            return  # a replay and a live copy of the same event can overlap
        if seq > self.last_seq + 1:
            self.early[seq] = event
            return
        await self._send_in_order(event, seq)

    async def _send_in_order(self, event: str, seq: int) -> None:
        self.last_seq = seq
        await self.send(event)
        while (after := self.early.pop(self.last_seq + 1, None)) is not None:
            self.last_seq += 1
            await self.send(after)

    async def _fill_gap(self) -> None:
        try:
            logged = await self.read_log(self.last_seq)
        except (RedisError, OSError):
            logged = []  # no log to read now: skip the gap rather than stall the socket
        held = min(self.early)
        for event in logged:
            seq = event_seq(event)
            if self.last_seq < seq < held:
                self.early[seq] = event
        first = min(self.early)
        self.last_seq = first - 1  # what is still missing was never logged: skip it
        await self._send_in_order(self.early.pop(first), first)
