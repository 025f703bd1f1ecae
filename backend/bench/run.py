"""One run of `courier bench queue`: start the stack, run both phases, stop, report."""

from __future__ import annotations

from functools import partial

from backend.bench.cpu import cpu_clock
from backend.bench.figures import Latency, Problems, Spread
from backend.bench.latency import WARMUP, latency_phase
from backend.bench.messages import BenchError, say
from backend.bench.options import QueueBench
from backend.bench.phase_loop import run_phase
from backend.bench.report import Report, as_json, format_report
from backend.bench.runner import layout, now, run_bench
from backend.bench.stack import Stack
from backend.bench.throughput import Tally, throughput_phase


def run_queue_bench(options: QueueBench) -> int:
    """Runs the bench and prints its report; 0 when every job came back right, else 1."""
    return run_bench(options.plan(), partial(_measure, options), partial(_show, options.as_json))


def _show(json: bool, report: Report) -> str:
    return as_json(report, report.ok) if json else format_report(report)


def _measure(options: QueueBench, stack: Stack, deadline: float) -> Report:
    redis_server = "" if options.redis_url else "redis-server, "
    say(f"starting {redis_server}1 web, {options.workers} worker(s)")
    stack.start(deadline)
    tally = Tally.empty(options.jobs)
    extensions, cpu = _throughput(stack, options, tally, deadline)
    report = Report(options.command(), now(), layout(stack, extensions))
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
    try:
        with cpu_clock(stack.pids()) as cpu:
            phase = throughput_phase(stack.ws_url, options, tally)
            extensions = run_phase(phase, deadline, "throughput")
    except BenchError as exc:
        raise BenchError(f"{exc}; {tally.outstanding} of {options.jobs} jobs outstanding") from None
    tally.verify()
    return extensions, cpu


def _latency(url: str, jobs: int, problems: Problems, deadline: float) -> Latency:
    say(f"latency: {jobs} jobs one at a time")
    samples = run_phase(latency_phase(url, jobs, problems), deadline, "latency")
    return Latency(jobs, WARMUP, Spread.of(samples))
