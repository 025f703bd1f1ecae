"""`courier bench fanout`: one room filled across two web processes, one member sending, every
member receiving. A room's messages cross processes through Redis pub/sub, so the bench checks
that every member got every message once and in the same order, not just how fast they came."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from backend.bench.client import BenchError, Client, connections, run_phase, say, task_group
from backend.bench.figures import Fanout, Problems, Spread, cpu_clock, layout
from backend.bench.options import FanoutBench
from backend.bench.report import FanoutReport, now
from backend.bench.stack import Stack, run_bench

ROOM = "bench"
WINDOW = 16  # messages sent but not yet received back by the sender
GRACE = 10.0  # seconds the members get after the last send before missing messages are counted


def member_name(index: int) -> str:
    return f"m{index}"


SENDER = member_name(0)


def run_fanout_bench(options: FanoutBench) -> int:
    """Runs the bench and prints its report; 0 when every member got every message, else 1."""
    return run_bench(options.plan(), partial(_measure, options), options.as_json)


def _measure(options: FanoutBench, stack: Stack, deadline: float) -> FanoutReport:
    say(f"fan-out: {options.members} members join room {ROOM!r}")
    problems, sent = Problems(), Sent.empty(options.messages)
    phase = fanout_phase(stack.ws_urls, options.members, sent, stack.pids(), problems)
    try:
        extensions, figures = run_phase(phase, deadline, "fan-out")
    except BenchError as exc:
        progress = f"{sent.count} of {options.messages} messages sent, {sent.back} back at m0"
        raise BenchError(f"{exc}; {progress}") from None
    where = layout(stack.plan, stack.redis_version(), extensions)
    return FanoutReport(options.command(), now(), where, figures, problems.first, problems.count)


async def fanout_phase(
    urls: Sequence[str], members: int, sent: Sent, pids: dict[str, int], problems: Problems
) -> tuple[str, Fanout]:
    """The WebSocket extensions agreed to, and the figures. Every socket is open, welcomed and in
    the room before the first send, and the CPU clock runs over the sends alone, so the figures
    measure fan-out, not handshakes or joins."""
    async with connections(urls, members) as sockets:
        clients = [Client(socket, problems) for socket in sockets]
        extensions = [await client.welcome() for client in clients]
        started = time.perf_counter()
        await join_all(clients)
        joined = time.perf_counter() - started
        say(f"all {members} members in the room after {joined:.2f}s; sending")
        with cpu_clock(pids) as cpu:
            room = await chat_phase(clients, sent)
    check(room, len(sent.texts), problems)
    return extensions[0], _figures(room, sent, joined, cpu)


def check(room: list[Member], messages: int, problems: Problems) -> None:
    """Each member got each message exactly once, and in the order the sender's copies came."""
    for member in room:
        counts = Counter(member.refs)
        missing = messages - len(counts)
        twice = sum(1 for count in counts.values() if count > 1)
        if missing:
            first = min(set(range(messages)) - counts.keys())
            problems.add(f"{member.name}: {missing} of {messages} never arrived (first: {first})")
        if twice:
            problems.add(f"{member.name}: {twice} of {messages} arrived more than once")
        if not missing and not twice:
            _same_order(member, room[0], problems)


def _same_order(member: Member, sender: Member, problems: Problems) -> None:
    """Only against a complete sender's list: a gap there would make every other list differ."""
    if member.refs == sender.refs or len(sender.refs) != len(member.refs):
        return
    at = next(i for i, (a, b) in enumerate(zip(member.refs, sender.refs, strict=True)) if a != b)
    problems.add(
        f"{member.name}: message #{at + 1} received is {member.refs[at]},"
        f" {sender.name} got {sender.refs[at]} there"
    )


def _figures(room: list[Member], sent: Sent, joined: float, cpu: dict[str, float]) -> Fanout:
    """Time runs from the first send to the last delivery to any member."""
    seconds = max(max(member.last for member in room) - sent.times[0], 1e-9)
    latencies = [latency for member in room for latency in member.latencies]
    messages = len(sent.texts)
    return Fanout(
        members=len(room),
        messages=messages,
        window=WINDOW,
        join_seconds=joined,
        seconds=seconds,
        messages_per_second=messages / seconds,
        deliveries_per_second=len(latencies) / seconds,
        latency_ms=Spread.of(latencies),
        cpu_seconds=cpu,
    )


async def join_all(clients: list[Client]) -> None:
    """Every member joins, then waits until it sees everyone in the room: a message sent before
    a member joined would not reach it, and would count as a loss. All join at once; each
    member gets the full list once (`presence`, on its own join), then `joined` events naming
    the later ones (one event for all those a web process heard of within 20 ms)."""
    everyone = {member_name(index) for index in range(len(clients))}
    async with task_group() as group:
        for index, client in enumerate(clients):
            group.create_task(_join(client, member_name(index), everyone))


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
        if kind == "presence":
            present = {str(member) for member in event.get("members") or []}
        elif kind == "joined":
            present.update(str(name) for name in event.get("names") or [])
        elif kind == "left":
            present.difference_update(str(name) for name in event.get("names") or [])
    if not history:
        client.problems.add(f"{name}: no history event after joining")


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
