"""`courier bench fanout`'s measurement: fill one room across the web processes, have one member
send, then check that every member got every message once and in the same order."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from backend.bench.client import Client, connections
from backend.bench.cpu import cpu_clock
from backend.bench.fanout_chat import WINDOW, Member, Sent, chat_phase
from backend.bench.fanout_room import join_all
from backend.bench.figures import Fanout, Problems, Spread
from backend.bench.messages import say


@dataclass(frozen=True)
class Outcome:
    extensions: str  # the WebSocket extensions the server agreed to
    figures: Fanout


async def fanout_phase(
    urls: Sequence[str], members: int, sent: Sent, pids: dict[str, int], problems: Problems
) -> Outcome:
    """Every socket is open, welcomed and in the room before the first send, and the CPU clock
    runs over the sends alone, so the figures measure fan-out, not handshakes or joins."""
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
    return Outcome(extensions[0], _figures(room, sent, joined, cpu))


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
