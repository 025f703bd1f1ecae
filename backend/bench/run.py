"""One run of `courier bench queue`: start the stack, run both phases, stop, report."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from backend.bench.cpu import cpu_snapshot, cpu_spent
from backend.bench.figures import Latency, Layout, Problems, Spread
from backend.bench.latency import WARMUP, latency_phase
from backend.bench.messages import BenchError, say
from backend.bench.options import TIME_LIMIT, QueueBench
from backend.bench.phase_loop import run_phase, sigterm_as_interrupt
from backend.bench.report import Report, as_json, format_report
from backend.bench.stack import Stack
from backend.bench.throughput import Tally, throughput_phase
from backend.process import event_loop_factory


def run_queue_bench(options: QueueBench) -> int:
    """Runs the bench and prints its report; 0 when every job came back right, else 1."""
    with sigterm_as_interrupt():
        try:
            report = _run(options)
        except BenchError as exc:
            say(str(exc))
            return 1
        except KeyboardInterrupt:
            say("interrupted; everything it started is stopped")
            return 130
    print(as_json(report) if options.as_json else format_report(report))
    return 0 if report.ok else 1


def _run(options: QueueBench) -> Report:
    """Whatever happens, the processes started are stopped and their logs removed."""
    deadline = time.monotonic() + TIME_LIMIT
    with tempfile.TemporaryDirectory(prefix="courier-bench-") as directory:
        stack = Stack(options, Path(directory))
        try:
            return _measure(stack, options, deadline)
        finally:
            say("stopping the processes")
            stack.stop()


def _measure(stack: Stack, options: QueueBench, deadline: float) -> Report:
    redis_server = "" if options.redis_url else "redis-server, "
    say(f"starting {redis_server}1 web, {options.workers} worker(s)")
    stack.start(deadline)
    tally = Tally.empty(options.jobs)
    extensions, cpu = _throughput(stack, options, tally, deadline)
    report = Report(options.command(), _now(), _layout(stack, options, extensions))
    report.throughput = tally.figures(options.connections, cpu)
    problems = tally.problems
    if options.latency_jobs:
        report.latency = _latency(stack.ws_url, options.latency_jobs, problems, deadline)
    report.problems, report.problem_count = problems.first, problems.count
    return report


def _throughput(
    stack: Stack, options: QueueBench, tally: Tally, deadline: float
) -> tuple[str, dict[str, float]]:
    """The WebSocket extensions agreed to, and the CPU time each process spent on the phase."""
    say(f"throughput: {options.jobs} jobs over {options.connections} connection(s)")
    before, started = cpu_snapshot(stack.pids()), time.monotonic()
    try:
        phase = throughput_phase(stack.ws_url, options, tally)
        extensions = run_phase(phase, deadline, "throughput")
    except BenchError as exc:
        raise BenchError(f"{exc}; {tally.outstanding} of {options.jobs} jobs outstanding") from None
    after, wall = cpu_snapshot(stack.pids()), time.monotonic() - started
    tally.verify()
    return extensions, cpu_spent(before, after, wall)


def _latency(url: str, jobs: int, problems: Problems, deadline: float) -> Latency:
    say(f"latency: {jobs} jobs one at a time")
    samples = run_phase(latency_phase(url, jobs, problems), deadline, "latency")
    return Latency(jobs, WARMUP, Spread.of(samples))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _layout(stack: Stack, options: QueueBench, extensions: str) -> Layout:
    loop = "uvloop" if event_loop_factory() is not None else "asyncio"
    return Layout(
        web=1,
        workers=options.workers,
        worker_concurrency=options.concurrency,
        redis=stack.redis_version(),
        cpus=os.cpu_count() or 0,
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        client_loop=loop,
        websocket_extensions=extensions,
    )
