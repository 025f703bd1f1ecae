"""The producer of a queue peer, run by the peer's own Python: the same phases as `courier bench
queue`, through the peer's documented client API (its `<peer>_app.Producer`).

Once the worker says it is up (each peer's own sign: a health key, a registration, a ping),
a warm-up, then throughput: N jobs with at
most WINDOW outstanding, so the producer cannot just fill the queue; then latency: one job at a
time. Each phase stops sending at its time budget, waits for what it sent, and counts every job
whose result is missing or wrong. Prints one JSON object: what it sent, what came back right,
the times. Synchronous clients (RQ, Celery) keep the window in order: wait for the oldest, send
the next, as a FIFO queue with one worker finishes them.

Usage: python peer_drive.py '<json config>'
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_PROBLEMS = 5


def text(ref: int) -> str:
    return f"hello {ref}"


@dataclass
class Phase:
    """One phase: send and end times of the jobs that came back right, and what went wrong."""

    sent: int = 0
    ok: int = 0
    first_sent: float = 0.0
    last_ended: float = 0.0
    cut: bool = False  # stopped sending at the time budget, before every job was sent
    samples: list[float] = field(default_factory=list)  # per job, send to result, seconds
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def send(self) -> float:
        now = time.perf_counter()
        self.first_sent = self.first_sent or now
        self.sent += 1
        return now

    def end(self, ref: int, started: float, result: object) -> None:
        now = time.perf_counter()
        self.last_ended = max(self.last_ended, now)
        if result == text(ref).upper():
            self.ok += 1
            self.samples.append(now - started)
        else:
            self.problem(f"job {ref}: {result!r}, expected {text(ref).upper()!r}")

    def problem(self, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(" ".join(message.split())[:300])  # one line each


@dataclass(frozen=True)
class Config:
    adapter: str
    url: str
    jobs: int
    latency_jobs: int
    window: int
    warmup: int
    seconds: float  # each phase stops sending after this long
    start_seconds: float  # for the very first result: the worker may still be starting
    result_seconds: float  # for any other result, once the sends have stopped


def shapes(config: Config) -> dict[str, tuple[int, int]]:
    """Each phase's (window, jobs), in the order they run."""
    return {
        "warmup": (1, config.warmup),
        "throughput": (config.window, config.jobs),
        "latency_warmup": (1, config.warmup),
        "latency": (1, config.latency_jobs),
    }


async def run_async(config: Config, module: Any) -> dict[str, Phase]:
    producer = await module.producer(config.url)
    phases: dict[str, Phase] = {}
    try:
        until = time.perf_counter() + config.start_seconds
        while time.perf_counter() < until:
            if await producer.ready():
                break
            await asyncio.sleep(0.05)
        for name, (window, jobs) in shapes(config).items():
            phases[name] = phase = Phase()
            first = config.start_seconds if name == "warmup" else config.result_seconds
            await _async_window(producer, config, (window, jobs, first), phase)
        return phases
    finally:
        await producer.close()


async def _async_window(
    producer: Any, config: Config, shape: tuple[int, int, float], phase: Phase
) -> None:
    """(window, jobs, seconds for the first result): at most `window` outstanding; sends stop
    after `config.seconds`, and a result not back `result_seconds` after that is missing."""
    window, jobs, first = shape
    slots = asyncio.Semaphore(window)
    until = time.perf_counter() + config.seconds

    async def one(ref: int, seconds: float) -> None:
        started = phase.send()
        try:
            handle = await producer.submit(text(ref))
            result = await asyncio.wait_for(producer.wait(handle, seconds), seconds)
        except Exception as exc:
            phase.problem(f"job {ref}: {type(exc).__name__}: {exc}")
        else:
            phase.end(ref, started, result)
        finally:
            slots.release()

    async with asyncio.TaskGroup() as group:
        for ref in range(jobs):
            await slots.acquire()
            if ref and time.perf_counter() > until:
                phase.cut = True
                slots.release()
                break
            waits = first if ref == 0 else config.result_seconds
            group.create_task(one(ref, until + waits - time.perf_counter()))


def run_sync(config: Config, module: Any) -> dict[str, Phase]:
    producer = module.producer(config.url)
    phases: dict[str, Phase] = {}
    try:
        until = time.perf_counter() + config.start_seconds
        while not producer.ready() and time.perf_counter() < until:
            time.sleep(0.05)
        for name, (window, jobs) in shapes(config).items():
            phases[name] = phase = Phase()
            first = config.start_seconds if name == "warmup" else config.result_seconds
            _sync_window(producer, config, (window, jobs, first), phase)
        return phases
    finally:
        producer.close()


def _sync_window(
    producer: Any, config: Config, shape: tuple[int, int, float], phase: Phase
) -> None:
    """As `_async_window`, in order: the oldest job is waited for before the next is sent."""
    window, jobs, first = shape
    until = time.perf_counter() + config.seconds
    waiting: deque[tuple[int, float, Any]] = deque()
    ref = 0
    while waiting or ref < jobs:
        while ref < jobs and len(waiting) < window:
            phase.cut = bool(ref) and time.perf_counter() > until
            if phase.cut:
                jobs = ref
                break
            started = phase.send()
            waiting.append((ref, started, producer.submit(text(ref))))
            ref += 1
        if not waiting:
            break
        done, started, handle = waiting.popleft()
        left = until + (first if done == 0 else config.result_seconds) - time.perf_counter()
        try:
            phase.end(done, started, producer.wait(handle, max(0.5, left)))
        except Exception as exc:
            phase.problem(f"job {done}: {type(exc).__name__}: {exc}")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where the environment has it, as Courier's bench client uses it."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    config = Config(**json.loads(sys.argv[1]))
    module = importlib.import_module(config.adapter)
    if inspect.iscoroutinefunction(module.producer):
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            phases = runner.run(run_async(config, module))
    else:
        phases = run_sync(config, module)
    print(json.dumps({name: asdict(phase) for name, phase in phases.items()}))


if __name__ == "__main__":
    main()
