"""The figures a run measures, and the problems it counts, ready to be reported. CPU time is read
from /proc per process and for the whole machine, so a report shows where the time went and
whether anything else competed for the CPUs."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backend.bench.options import Plan
from backend.procs.role import event_loop_factory

MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Spread:
    """Latencies in milliseconds (nearest-rank percentiles)."""

    p50: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread | None:
        """None when there is no sample (every job failed)."""
        if not seconds:
            return None
        ordered = sorted(seconds)
        mean = sum(ordered) / len(ordered)
        p50, p99 = _rank(ordered, 0.5), _rank(ordered, 0.99)
        return cls(1000 * p50, 1000 * p99, 1000 * mean, 1000 * ordered[-1])


def _rank(ordered: list[float], quantile: float) -> float:
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


@dataclass(frozen=True)
class Throughput:
    """The throughput phase: many connections, each with a window of jobs outstanding."""

    jobs: int
    connections: int
    window: int
    seconds: float  # first send to last result
    jobs_per_second: float
    latency_ms: Spread | None  # send to result, per job, under load
    cpu_seconds: dict[str, float]  # per process and for the machine, over the whole phase


@dataclass(frozen=True)
class Latency:
    """The latency phase: one job at a time, after a few unmeasured ones."""

    jobs: int
    warmup: int
    latency_ms: Spread | None


@dataclass(frozen=True)
class Layout:
    """What was measured and on what, so figures from two runs can be compared fairly."""

    web: int
    workers: int
    worker_concurrency: int
    redis: str
    cpus: int
    python: str
    platform: str
    client_loop: str
    websocket_extensions: str


def layout(plan: Plan, redis: str, extensions: str) -> Layout:
    """What the figures were measured on, so two runs can be compared fairly."""
    return Layout(
        web=plan.webs,
        workers=plan.workers,
        worker_concurrency=plan.concurrency if plan.workers else 0,
        redis=redis,
        cpus=os.cpu_count() or 0,
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        client_loop="uvloop" if event_loop_factory() is not None else "asyncio",
        websocket_extensions=extensions,
    )


class Problems:
    """Everything that went wrong, counted in full but kept to the first few messages."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.first) < MAX_PROBLEMS:
            self.first.append(message)


@dataclass(frozen=True)
class Fanout:
    """The fan-out phase: one sender, every member of the room receiving every message."""

    members: int
    messages: int
    window: int  # messages the sender keeps not yet back at itself
    join_seconds: float  # first join until every member saw all the others
    seconds: float  # first send until the last member received the last message
    messages_per_second: float  # delivered to every member
    deliveries_per_second: float  # one message to one member
    latency_ms: Spread | None  # send to receipt, per delivery
    cpu_seconds: dict[str, float]  # per process and for the machine, over the sends
    not_reading: int = 0  # members that joined and then read nothing (not in the figures above)
    closed: dict[str, int] = field(default_factory=dict)  # how those ended: close code, or "open"


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each process, of the bench client and of the whole machine."""
    snapshot = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    snapshot["bench client"] = time.process_time()
    snapshot["machine"] = _machine_busy_seconds()
    return snapshot


def cpu_spent(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """CPU seconds spent between two snapshots, with the wall-clock seconds as `wall`."""
    spent = {name: round(after[name] - before[name], 2) for name in before}
    spent["wall"] = round(wall, 2)
    return spent


@contextlib.contextmanager
def cpu_clock(pids: dict[str, int]) -> Iterator[dict[str, float]]:
    """The CPU seconds each process spends inside the block, filled in on the way out (as
    `cpu_spent` gives them), so a phase's figures leave out start-up and warm-up."""
    spent: dict[str, float] = {}
    before, started = cpu_snapshot(pids), time.monotonic()
    yield spent
    spent.update(cpu_spent(before, cpu_snapshot(pids), time.monotonic() - started))


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (0.0 where there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """Busy CPU time of the whole machine: shows whether anything else competed for the CPUs."""
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    busy = sum(ticks[0:3]) + sum(ticks[5:7])  # user, nice, system, irq, softirq
    return busy / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """A process's resident memory in KB, from /proc (0 where there is no /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:"), 0)
