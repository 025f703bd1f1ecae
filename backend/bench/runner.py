"""What every bench does around its measurements: one deadline, a stack that is always stopped,
a report printed on stdout, and an exit status that says whether everything came back right."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from backend.bench.figures import Layout
from backend.bench.messages import BenchError, say
from backend.bench.options import TIME_LIMIT, Plan
from backend.bench.phase_loop import sigterm_as_interrupt
from backend.bench.stack import Stack
from backend.procs.role import event_loop_factory


class Verdict(Protocol):
    @property
    def ok(self) -> bool: ...


R = TypeVar("R", bound=Verdict)


def run_bench(plan: Plan, measure: Callable[[Stack, float], R], show: Callable[[R], str]) -> int:
    """Starts what `plan` asks for, lets `measure(stack, deadline)` drive it, and prints the
    report `show` makes of the result; 0 when it is ok, 1 when not or when the bench could not
    run, 130 when interrupted."""
    with sigterm_as_interrupt():
        try:
            report = _run(plan, measure)
        except BenchError as exc:
            say(str(exc))
            return 1
        except KeyboardInterrupt:
            say("interrupted; everything it started is stopped")
            return 130
    print(show(report))
    return 0 if report.ok else 1


def _run(plan: Plan, measure: Callable[[Stack, float], R]) -> R:
    """Whatever happens, the processes started are stopped and their logs removed."""
    deadline = time.monotonic() + TIME_LIMIT
    with tempfile.TemporaryDirectory(prefix="courier-bench-") as directory:
        stack = Stack(plan, Path(directory))
        try:
            return measure(stack, deadline)
        finally:
            say("stopping the processes")
            stack.stop()


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def layout(stack: Stack, extensions: str) -> Layout:
    """What the figures were measured on, so two runs can be compared fairly."""
    plan = stack.plan
    return Layout(
        web=plan.webs,
        workers=plan.workers,
        worker_concurrency=plan.concurrency if plan.workers else 0,
        redis=stack.redis_version(),
        cpus=os.cpu_count() or 0,
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        client_loop="uvloop" if event_loop_factory() is not None else "asyncio",
        websocket_extensions=extensions,
    )
