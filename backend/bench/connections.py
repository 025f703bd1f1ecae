"""`courier bench connections`: what an idle socket costs. N sockets held open on one web process
(each optionally in one of K rooms): the web process's RSS and Redis's memory per socket, the
time to open them, whether each still answers a ping, and what Redis keeps once they close."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from backend.bench.client import BenchError, run_phase, say
from backend.bench.figures import Problems, layout, rss_kb
from backend.bench.options import ConnectionsBench
from backend.bench.report import now
from backend.bench.sockets import AT_ONCE
from backend.bench.stack import Stack, run_bench

PONG_WAIT = 30.0  # seconds every socket gets to answer its ping
SETTLE = 1.0  # seconds after the last open or close before memory is read


def run_connections_bench(options: ConnectionsBench) -> int:
    """The bench process and the web process it starts (which inherits the limit) each need a
    file descriptor per socket: `run_bench` raises the soft limit first (the plan's sockets)."""
    return run_bench(options.plan(), partial(_measure, options), options.as_json)


@dataclass
class Sample:
    web_rss_kb: int
    redis_used_memory: int


@dataclass
class ConnectionsReport:
    """Memory figures are deltas from before the first socket opened, divided by `sockets`."""

    sockets: int
    rooms: int
    web_rss_kb_per_socket: float
    redis_bytes_per_socket: float
    connect_seconds: float
    join_seconds: float
    pongs: int
    ping_seconds: float
    web_rss_kb: dict[str, int]  # before, open, after_close
    redis_used_memory: dict[str, int]  # before, open, after_close
    keys_after_close: dict[str, dict[str, int]]  # by kind: count, min/max TTL in seconds
    command: str = ""
    date: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0 and self.pongs == self.sockets

    def as_json(self) -> str:
        return json.dumps({**asdict(self), "ok": self.ok}, indent=2)

    def as_text(self) -> str:
        rss, mem = self.web_rss_kb, self.redis_used_memory
        rooms = (
            f", in {self.rooms} rooms (joined in {self.join_seconds:.2f}s)" if self.rooms else ""
        )
        lines = [
            f"command:      {self.command}",
            f"date:         {self.date}",
            f"machine:      {self.machine.get('cpus')} CPUs, {self.machine.get('platform')}",
            f"sockets:      {self.sockets} open in {self.connect_seconds:.2f}s{rooms}",
            f"web RSS:      {self.web_rss_kb_per_socket:.1f} KB per socket ({rss['before']} KB"
            f" before, {rss['open']} KB open, {rss['after_close']} KB after close)",
            f"Redis memory: {self.redis_bytes_per_socket:.0f} bytes per socket ({mem['before']}"
            f" before, {mem['open']} open, {mem['after_close']} after close)",
            f"pings:        {self.pongs} of {self.sockets} answered in {self.ping_seconds:.2f}s",
            "after close:  "
            + (", ".join(f"{k}: {v['count']} keys (TTL {v['min_ttl']}-{v['max_ttl']} s)"
                         for k, v in self.keys_after_close.items()) or "no keys"),
        ]  # fmt: skip
        lines += [f"problem:      {problem}" for problem in self.problems]
        lines.append("ok" if self.ok else f"NOT OK: {self.problem_count} problem(s)")
        return "\n".join(lines)


class Held:
    """One open socket and what came back on it, read by one task for as long as it is open."""

    def __init__(self, socket: ClientConnection, session: str, problems: Problems) -> None:
        self.socket, self.session, self.problems = socket, session, problems
        self.joined, self.pong = asyncio.Event(), asyncio.Event()

    async def read(self) -> None:
        try:
            async for message in self.socket:
                event = json.loads(message)
                kind = event.get("type")
                if kind == "presence":
                    self.joined.set()
                elif kind == "pong":
                    self.pong.set()
                elif kind == "error":
                    self.problems.add(f"{self.session}: {event.get('code')}: {event.get('detail')}")
        except ConnectionClosed as exc:
            if not self.pong.is_set():
                self.problems.add(f"{self.session}: closed before its pong: {exc}")


async def _open(url: str, problems: Problems) -> Held:
    socket = await connect(url, open_timeout=30, close_timeout=2, max_queue=None)
    welcome = json.loads(await socket.recv())
    if welcome.get("type") != "welcome":
        raise BenchError(f"expected a welcome event first, got {welcome!r}")
    return Held(socket, str(welcome.get("session")), problems)


async def _all(calls: Sequence[Callable[[], Awaitable[Any]]]) -> tuple[list[Any], float]:
    """Each call's result, AT_ONCE of them in flight at a time, and the seconds they took."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def gated(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    started = time.perf_counter()
    results = await asyncio.gather(*(gated(call) for call in calls))
    return list(results), time.perf_counter() - started


def _sample(pid: int, redis_url: str) -> Sample:
    rss = rss_kb(pid)
    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    try:
        return Sample(rss, int(client.info("memory")["used_memory"]))
    finally:
        client.close()


async def _settled(pid: int, redis_url: str) -> Sample:
    await asyncio.sleep(SETTLE)
    return await asyncio.to_thread(_sample, pid, redis_url)


async def _join(held: Held, index: int, rooms: int) -> None:
    room = f"bench-{index % rooms}"
    await held.socket.send(json.dumps({"type": "join", "room": room, "name": f"m{index}"}))
    await held.joined.wait()


async def _ping(held: Held, index: int) -> None:
    await held.socket.send(json.dumps({"type": "ping", "ref": index}))
    await held.pong.wait()


async def _hold(options: ConnectionsBench, stack: Stack, problems: Problems) -> dict[str, Any]:
    """Opens, joins, pings and closes every socket; the figures of each step."""
    pid, url, n = stack.pids()["web"], stack.redis_url, options.sockets
    before = await _settled(pid, url)
    held, connect_seconds = await _all([partial(_open, stack.ws_url, problems)] * n)
    readers = [asyncio.create_task(h.read()) for h in held]
    joins = [partial(_join, h, i, options.rooms) for i, h in enumerate(held) if options.rooms]
    join_seconds = (await _all(joins))[1]
    say(f"{n} sockets open in {connect_seconds:.2f}s; reading memory, then one ping each")
    opened = await _settled(pid, url)
    started = time.perf_counter()
    pings = [asyncio.create_task(_ping(h, i)) for i, h in enumerate(held)]
    await asyncio.wait(pings, timeout=PONG_WAIT)
    ping_seconds = time.perf_counter() - started
    pongs = sum(h.pong.is_set() for h in held)
    for task in pings:
        task.cancel()
    await _all([h.socket.close for h in held])
    await asyncio.gather(*readers, return_exceptions=True)
    after = await _settled(pid, url)
    return {
        "sessions": {h.session for h in held},
        "samples": (before, opened, after),
        "figures": (connect_seconds, join_seconds, pongs, ping_seconds),
    }


def _leftovers(redis_url: str, prefix: str, sessions: set[str]) -> dict[str, dict[str, int]]:
    """The keys of the bench's sessions and rooms still in Redis, by kind (`log`, `room
    stream`...), with their TTLs; a key without one shows a TTL of -1."""
    client = redis.Redis.from_url(redis_url, socket_timeout=30, decode_responses=True)
    try:
        names = list(client.scan_iter(f"{prefix}{{s:*", count=1000))
        mine = [n for n in names if n.partition("{s:")[2].partition("}")[0] in sessions]
        mine += list(client.scan_iter(f"{prefix}{{r:bench-*", count=1000))
        with client.pipeline(transaction=False) as pipe:
            for name in mine:
                pipe.ttl(name)
            ttls = pipe.execute()
    finally:
        client.close()
    kinds: dict[str, dict[str, int]] = {}
    for name, ttl in zip(mine, ttls, strict=True):
        kind = name.rpartition("}:")[2].partition(":")[0]
        kind = f"room {kind}" if "{r:" in name else kind
        seen = kinds.setdefault(kind, {"count": 0, "min_ttl": ttl, "max_ttl": ttl})
        seen["count"] += 1
        seen["min_ttl"], seen["max_ttl"] = min(seen["min_ttl"], ttl), max(seen["max_ttl"], ttl)
    return kinds


def _measure(options: ConnectionsBench, stack: Stack, deadline: float) -> ConnectionsReport:
    rooms = f", each in one of {options.rooms} rooms" if options.rooms else ""
    say(f"opening {options.sockets} idle sockets on one web process{rooms}")
    problems = Problems()
    found = run_phase(_hold(options, stack, problems), deadline, "connections")
    before, opened, after = found["samples"]
    connect_seconds, join_seconds, pongs, ping_seconds = found["figures"]
    keys = _leftovers(stack.redis_url, stack.prefix, found["sessions"])
    for kind, seen in keys.items():
        if seen["min_ttl"] < 0 or kind == "route":
            problems.add(f"{seen['count']} {kind} key(s) left without a TTL or still routed")
    n = options.sockets
    where = asdict(layout(stack.plan, stack.redis_version(), "none"))
    return ConnectionsReport(
        n, options.rooms,
        (opened.web_rss_kb - before.web_rss_kb) / n,
        (opened.redis_used_memory - before.redis_used_memory) / n,
        connect_seconds, join_seconds, pongs, ping_seconds,
        {"before": before.web_rss_kb, "open": opened.web_rss_kb, "after_close": after.web_rss_kb},
        {"before": before.redis_used_memory, "open": opened.redis_used_memory,
         "after_close": after.redis_used_memory},
        keys, options.command(), now(), where, problems.first, problems.count,
    )  # fmt: skip
