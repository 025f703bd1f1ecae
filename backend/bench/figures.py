"""The figures a run measures, and the problems it counts, ready to be reported."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
