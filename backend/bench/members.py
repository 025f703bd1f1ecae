"""A fan-out bench member: joining the room, then reading every message, in whichever client
process holds it. A message is known by its text, `<ref> <send time>` (only the sender's own
copy carries a `ref`), so a member in another process can check it and time it by itself."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed

from backend.bench.client import BenchError, Client, task_group

ROOM = "bench"
NOT_READING_BUFFER = 4096  # SO_RCVBUF of a member that reads nothing


def member_name(index: int) -> str:
    return f"m{index}"


SENDER = member_name(0)


@dataclass
class Received:
    """What one member got, in order: the refs, how long each took, and when the last came."""

    name: str
    refs: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    last: float = 0.0  # perf_counter(), the same clock in every process on the machine
    reading: bool = True  # False: joined, then read nothing until the end
    closed: str = ""  # how a member that read nothing found its socket: a close code, or "open"


def reads(name: str, not_reading: int) -> bool:
    """Whether member `name` reads, with `not_reading` percent of the room not reading, spread
    evenly over the members (and the sender, m0, always reading)."""
    index = int(name[1:])
    return (index * not_reading) // 100 == ((index + 1) * not_reading) // 100


class Member:
    """Reads until it has every message. `texts` is shared by the members of one process: the
    first text seen for each ref, so every member must have got the same one."""

    def __init__(
        self, name: str, client: Client, messages: int, texts: dict[int, str], not_reading: int = 0
    ) -> None:
        self.received = Received(name, reading=reads(name, not_reading))
        self.not_reading = not_reading
        if not self.received.reading:  # its own buffer small: the server's fill sooner
            sock = client.socket.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, NOT_READING_BUFFER)
        self.client = client
        self.messages = messages
        self.texts = texts
        self.silence: Silence | None = None
        self.window: asyncio.Semaphore | None = None  # the sender's: its copies free slots
        self.back = 0  # the sender's copies that came back

    @property
    def name(self) -> str:
        return self.received.name

    async def receive_all(self) -> None:
        while len(self.received.refs) < self.messages:
            event = await self.client.receive()
            arrived = time.perf_counter()
            if event.get("type") == "chat":
                self._chat(event, arrived)
            else:
                self._other(event)

    async def drain(self, within: float) -> None:
        """For a member that read nothing: reads what is left, to learn how the server ended
        its socket (1013 once its outbox was full), or that it is still open."""
        try:
            async with asyncio.timeout(within):
                while True:
                    await self.client.socket.recv()
        except ConnectionClosed as exc:
            self.received.closed = str(exc.rcvd.code if exc.rcvd else 1006)
        except TimeoutError:
            self.received.closed = "open"

    def _chat(self, event: dict[str, Any], arrived: float) -> None:
        sent = self._sent(event)
        if sent is None:
            self.client.problems.add(f"{self.name}: a chat event that was not sent: {event!r}")
            return
        ref, when = sent
        self.received.refs.append(ref)
        self.received.latencies.append(arrived - when)
        self.received.last = arrived
        if self.window is not None:
            self._own(event, ref)
        elif "mine" in event or "ref" in event:
            self.client.problems.add(f"{self.name}: got the sender's own copy: {event!r}")

    def _sent(self, event: dict[str, Any]) -> tuple[int, float] | None:
        """(ref, send time) of a chat event m0 sent to this room, else None."""
        text = event.get("text")
        if not isinstance(text, str) or event.get("name") != SENDER or event.get("room") != ROOM:
            return None
        head, _, when = text.partition(" ")
        if not head.isdigit() or not 0 <= int(head) < self.messages:
            return None
        ref = int(head)
        if self.texts.setdefault(ref, text) != text:
            return None
        try:
            return ref, float(when)
        except ValueError:
            return None

    def _own(self, event: dict[str, Any], ref: int) -> None:
        """The sender's copy frees a window slot, whatever else is wrong with it."""
        assert self.window is not None
        self.back += 1
        self.window.release()
        if event.get("mine") is not True or event.get("ref") != ref:
            self.client.problems.add(f"{self.name}: own copy without mine/ref {ref}: {event!r}")

    def _other(self, event: dict[str, Any]) -> None:
        """Nothing but chat is expected, and members that read nothing leaving (closed once
        their outbox is full); an error for a send still frees its window slot."""
        names = event.get("names") if event.get("type") == "left" else None
        if isinstance(names, list) and not any(reads(str(n), self.not_reading) for n in names):
            if self.silence is not None:  # with not_reading 0, every name reads: none get here
                self.silence.saw_leave(names)
            return
        self.client.problems.add(f"{self.name}: unexpected {event!r}")
        if self.window is not None and event.get("type") == "error":
            self.window.release()


class Silence:
    """The members of one client process that read nothing. Each starts reading the moment a
    reader of the process sees it leave the room (the server closed its socket), so that it
    reads up to the close frame before the server gives up on it. One never seen leaving is
    still open at the end."""

    def __init__(self, members: list[Member], within: float) -> None:
        silent = [member for member in members if not member.received.reading]
        self.left = {member.name: asyncio.Event() for member in silent}
        self.draining = {m.name: asyncio.create_task(self._drain(m, within)) for m in silent}
        for member in members:
            member.silence = self

    async def _drain(self, member: Member, within: float) -> None:
        member.received.closed = "open"
        await self.left[member.name].wait()
        await member.drain(within)

    def saw_leave(self, names: list[object]) -> None:
        for name in names:
            event = self.left.get(str(name))
            if event is not None:
                event.set()

    async def finish(self) -> None:
        for name, task in self.draining.items():
            if not self.left[name].is_set():
                task.cancel()
        await asyncio.gather(*self.draining.values(), return_exceptions=True)


async def join_all(clients: list[Client], names: list[str], everyone: set[str]) -> None:
    """Each client joins as its name, then waits until it sees everyone in the room: a message
    sent before a member joined would not reach it, and would count as a loss. Each member gets
    the full list once (`presence`, on its own join), then `joined` events naming the later
    ones (one event for all those a web process heard of within 20 ms)."""
    async with task_group() as group:
        for client, name in zip(clients, names, strict=True):
            group.create_task(_join(client, name, everyone))


async def _join(client: Client, name: str, everyone: set[str]) -> None:
    await client.send({"type": "join", "room": ROOM, "name": name})
    history, present = False, set[str]()
    while present != everyone:
        event = await client.receive()
        kind = event.get("type")
        if kind == "error":
            detail = f"{event.get('code')}: {event.get('detail')}"
            raise BenchError(f"{name} could not join room {ROOM!r}: {detail}")
        if event.get("room") != ROOM:
            continue
        history = history or kind == "history"
        # Names as they came (strings, or a problem that shows as a member never seen): at
        # 10,000 members these lists are most of what the bench reads while the room fills.
        if kind == "presence":
            present = set(event.get("members") or [])
        elif kind == "joined":
            present.update(event.get("names") or [])
        elif kind == "left":
            present.difference_update(event.get("names") or [])
    if not history:
        client.problems.add(f"{name}: no history event after joining")
