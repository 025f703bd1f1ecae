"""The fan-out phase: one member sends chat messages, and every member, the sender too,
receives each one. The sender keeps a small window of messages not yet back at itself, so the
room is measured at a steady pace rather than with a backlog that only shows queueing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from backend.bench.client import Client
from backend.bench.fanout_room import ROOM, SENDER, member_name
from backend.bench.phase_loop import task_group

WINDOW = 16  # messages sent but not yet received back by the sender
GRACE = 10.0  # seconds the members get after the last send before missing messages are counted


@dataclass
class Sent:
    """What the sender sent, by ref: each message's text and `perf_counter()` send time."""

    texts: list[str]
    times: list[float]
    count: int = 0
    back: int = 0  # messages whose copy came back to the sender

    @classmethod
    def empty(cls, messages: int) -> Sent:
        return cls([""] * messages, [0.0] * messages)


class Member:
    """One member's side: the refs it received, in order, and how long each took to arrive.
    A message is known by its text (`<ref> <send time>`), since only the sender's copy has a
    `ref`."""

    def __init__(
        self, name: str, client: Client, sent: Sent, window: asyncio.Semaphore | None
    ) -> None:
        self.name = name
        self.client = client
        self.sent = sent
        self.window = window  # the sender's: each copy back at it frees a slot
        self.refs: list[int] = []
        self.latencies: list[float] = []
        self.last = 0.0  # when the latest message arrived

    async def receive_all(self) -> None:
        while len(self.refs) < len(self.sent.texts):
            event = await self.client.receive()
            arrived = time.perf_counter()
            if event.get("type") == "chat":
                self._chat(event, arrived)
            else:
                self._other(event)

    def _chat(self, event: dict[str, Any], arrived: float) -> None:
        ref = self._ref(event)
        if ref is None:
            self.client.problems.add(f"{self.name}: a chat event that was not sent: {event!r}")
            return
        self.refs.append(ref)
        self.latencies.append(arrived - self.sent.times[ref])
        self.last = arrived
        if self.window is not None:
            self._own(event, ref)
        elif "mine" in event or "ref" in event:
            self.client.problems.add(f"{self.name}: got the sender's own copy: {event!r}")

    def _ref(self, event: dict[str, Any]) -> int | None:
        text, texts = event.get("text"), self.sent.texts
        head = text.partition(" ")[0] if isinstance(text, str) else ""
        ref = int(head) if head.isdigit() else -1
        same = 0 <= ref < len(texts) and texts[ref] == text
        return ref if same and event.get("name") == SENDER and event.get("room") == ROOM else None

    def _own(self, event: dict[str, Any], ref: int) -> None:
        """The sender's copy frees a window slot, whatever else is wrong with it."""
        assert self.window is not None
        self.sent.back += 1
        self.window.release()
        if event.get("mine") is not True or event.get("ref") != ref:
            self.client.problems.add(f"{self.name}: own copy without mine/ref {ref}: {event!r}")

    def _other(self, event: dict[str, Any]) -> None:
        """Nothing but chat is expected; an error for a send still frees its window slot."""
        self.client.problems.add(f"{self.name}: unexpected {event!r}")
        if self.window is not None and event.get("type") == "error":
            self.window.release()


async def chat_phase(clients: list[Client], sent: Sent) -> list[Member]:
    """Member i is `m<i>` on socket i; m0 sends. Returns every member once all have received
    every message, or GRACE seconds after the last send, whichever comes first."""
    window = asyncio.Semaphore(WINDOW)
    members = [
        Member(member_name(index), client, sent, window if index == 0 else None)
        for index, client in enumerate(clients)
    ]
    async with task_group() as group:
        readers = [group.create_task(member.receive_all()) for member in members]
        group.create_task(_send_then_settle(clients[0], sent, window, readers))
    return members


async def _send_then_settle(
    sender: Client, sent: Sent, window: asyncio.Semaphore, readers: list[asyncio.Task[None]]
) -> None:
    """A member still waiting GRACE seconds after the last send is stopped; the checks then
    count what it missed, where waiting on would only end at the bench's time limit."""
    for ref in range(len(sent.texts)):
        await window.acquire()
        sent.times[ref] = now = time.perf_counter()
        sent.texts[ref] = text = f"{ref} {now:.6f}"
        await sender.send({"type": "chat", "room": ROOM, "text": text, "ref": ref})
        sent.count += 1
    _, late = await asyncio.wait(readers, timeout=GRACE)
    for task in late:
        task.cancel()
