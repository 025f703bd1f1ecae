"""`courier bench fanout`: one room filled across two web processes, one member sending, every
member receiving. A room's messages cross processes through Redis pub/sub, so the bench checks
that every member got every message once and in the same order, not just how fast they came.

The members are read by two client processes (this one, with the sender, and a helper; see
`backend.bench.helper`), so the client's own CPU is not the ceiling of what is measured."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from backend.bench.client import BenchError, Client, connections, run_phase, say, task_group
from backend.bench.figures import Fanout, Problems, Spread, cpu_clock, layout
from backend.bench.helper import Helper, Report
from backend.bench.members import (
    ROOM,
    Member,
    Received,
    Silence,
    join_all,
    member_name,
)
from backend.bench.options import FanoutBench
from backend.bench.report import FanoutReport, now
from backend.bench.stack import Stack, run_bench
from backend.bench.weighing import room_weight, web_rss_kb

WINDOW = 16  # messages sent but not yet received back by the sender
GRACE = 10.0  # seconds the members get after the last send before missing messages are counted


def run_fanout_bench(options: FanoutBench) -> int:
    """Runs the bench and prints its report; 0 when every member got every message, else 1."""
    return run_bench(options.plan(), partial(_measure, options), options.as_json)


@dataclass
class Sent:
    """What the sender sent, by ref: each message's text and `perf_counter()` send time."""

    texts: list[str]
    count: int = 0
    back: int = 0  # messages whose copy came back to the sender

    @classmethod
    def empty(cls, messages: int) -> Sent:
        return cls([""] * messages)


@dataclass
class Half:
    """The members one client process holds: member i is `m<i>`, on web process i mod 2."""

    names: list[str]
    urls: list[str]

    @classmethod
    def of(cls, urls: Sequence[str], indexes: range) -> Half:
        return cls([member_name(i) for i in indexes], [urls[i % len(urls)] for i in indexes])


def _measure(options: FanoutBench, stack: Stack, deadline: float) -> FanoutReport:
    say(f"fan-out: {options.members} members join room {ROOM!r}, read by 2 client processes")
    problems, sent = Problems(), Sent.empty(options.messages)
    split = (options.members + 1) // 2
    mine = Half.of(stack.ws_urls, range(split))
    theirs = Half.of(stack.ws_urls, range(split, options.members))
    everyone = set(mine.names) | set(theirs.names)
    helper = Helper(theirs.urls, theirs.names, everyone)
    helper.start()
    try:
        pids = {**stack.pids(), "bench helper": helper.pid}
        weigh = partial(room_weight, stack, options.members, web_rss_kb(stack))
        not_reading = options.not_reading
        phase = fanout_phase(
            mine, helper, sent, pids, problems, weigh=weigh, not_reading=not_reading
        )
        extensions, figures = run_phase(phase, deadline, "fan-out")
    except BenchError as exc:
        progress = f"{sent.count} of {options.messages} messages sent, {sent.back} back at m0"
        raise BenchError(f"{exc}; {progress}") from None
    finally:
        helper.stop()
    where = layout(stack.plan, stack.redis_version(), extensions)
    return FanoutReport(options.command(), now(), where, figures, problems.first, problems.count)


async def fanout_phase(
    mine: Half,
    helper: Helper,
    sent: Sent,
    pids: dict[str, int],
    problems: Problems,
    *,
    weigh: Callable[[], str] | None = None,
    not_reading: int = 0,
) -> tuple[str, Fanout]:
    """The WebSocket extensions agreed to, and the figures. Every socket is open, welcomed and in
    the room before the first send, and the CPU clock runs over the sends alone, so the figures
    measure fan-out, not handshakes or joins."""
    async with connections(mine.urls, len(mine.urls), lean=True) as sockets:
        clients = [Client(socket, problems) for socket in sockets]
        extensions = [await client.welcome() for client in clients]
        await helper.step("connect")
        join = ("join", len(sent.texts), GRACE, not_reading)
        joined = await _fill_room(clients, mine.names, helper, pids, join)
        weight = f"; {await asyncio.to_thread(weigh)}" if weigh is not None else ""
        say(f"all {len(helper.everyone)} members in the room after {joined:.2f}s{weight}; sending")
        texts: dict[int, str] = {}
        with cpu_clock(pids) as cpu:
            ours = await chat_phase(clients, mine.names, sent, texts, not_reading)
            report: Report = await helper.step("sent")
    for message in report.problems:
        problems.add(message)
    problems.count += report.problem_count - len(report.problems)
    room = [member.received for member in ours] + report.members
    readers = [member for member in room if member.reading]
    check(readers, sent, [texts, report.texts], problems)
    figures = _figures(readers, sent, joined, cpu)
    closed = Counter(member.closed for member in room if not member.reading)
    return extensions[0], replace(figures, not_reading=closed.total(), closed=dict(closed))


async def _fill_room(
    clients: list[Client], names: list[str], helper: Helper, pids: dict[str, int], join: object
) -> float:
    """Every member of both client processes joins at once (the helper's told `join`); the
    seconds until each saw all the others."""
    started = time.perf_counter()
    with cpu_clock(pids) as joining:
        async with task_group() as group:
            group.create_task(helper.step(join))
            await join_all(clients, names, helper.everyone)
    joined = time.perf_counter() - started
    busy = (f"{name} {seconds:.1f}s" for name, seconds in joining.items() if name != "wall")
    say(f"CPU while they joined: {', '.join(busy)}")
    return joined


def check(room: list[Received], sent: Sent, seen: list[dict[int, str]], problems: Problems) -> None:
    """Each member got each message exactly once, with the text sent, and in the order the
    sender's copies came."""
    for texts in seen:
        for ref, text in texts.items():
            if text != sent.texts[ref]:
                problems.add(f"message {ref} arrived as {text!r}, sent as {sent.texts[ref]!r}")
    messages = len(sent.texts)
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


def _same_order(member: Received, sender: Received, problems: Problems) -> None:
    """Only against a complete sender's list: a gap there would make every other list differ."""
    if member.refs == sender.refs or len(sender.refs) != len(member.refs):
        return
    at = next(i for i, (a, b) in enumerate(zip(member.refs, sender.refs, strict=True)) if a != b)
    problems.add(
        f"{member.name}: message #{at + 1} received is {member.refs[at]},"
        f" {sender.name} got {sender.refs[at]} there"
    )


def _figures(room: list[Received], sent: Sent, joined: float, cpu: dict[str, float]) -> Fanout:
    """Time runs from the first send to the last delivery to any member."""
    first = float(sent.texts[0].partition(" ")[2] or 0.0)
    seconds = max(max(member.last for member in room) - first, 1e-9)
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


async def chat_phase(
    clients: list[Client], names: list[str], sent: Sent, texts: dict[int, str], not_reading: int
) -> list[Member]:
    """This process's members read while m0 (the first of them) sends. Returns them once all
    have received every message, or GRACE seconds after the last send, and those that read
    nothing have found out how their socket ended."""
    messages = len(sent.texts)
    members = [
        Member(n, c, messages, texts, not_reading) for n, c in zip(names, clients, strict=True)
    ]
    members[0].window = window = asyncio.Semaphore(WINDOW)
    silence = Silence(members, GRACE)
    async with task_group() as group:
        readers = [group.create_task(m.receive_all()) for m in members if m.received.reading]
        group.create_task(_send_then_settle(members[0], sent, window, readers))
    await silence.finish()
    return members


async def _send_then_settle(
    sender: Member, sent: Sent, window: asyncio.Semaphore, readers: list[asyncio.Task[None]]
) -> None:
    """A member still waiting GRACE seconds after the last send is stopped; the checks then
    count what it missed, where waiting on would only end at the bench's time limit."""
    for ref in range(len(sent.texts)):
        await window.acquire()
        sent.texts[ref] = text = f"{ref} {time.perf_counter():.6f}"
        await sender.client.send({"type": "chat", "room": ROOM, "text": text, "ref": ref})
        sent.count += 1
        sent.back = sender.back
    _, late = await asyncio.wait(readers, timeout=GRACE)
    for task in late:
        task.cancel()
