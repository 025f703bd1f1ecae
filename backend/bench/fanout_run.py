"""One run of `courier bench fanout`: start Redis and two web processes, fill a room, send,
stop, report."""

from __future__ import annotations

from functools import partial

from backend.bench.fanout import fanout_phase
from backend.bench.fanout_chat import Sent
from backend.bench.fanout_report import FanoutReport, format_fanout
from backend.bench.fanout_room import ROOM
from backend.bench.figures import Problems
from backend.bench.messages import BenchError, say
from backend.bench.options import FanoutBench
from backend.bench.phase_loop import run_phase
from backend.bench.report import as_json
from backend.bench.runner import layout, now, run_bench
from backend.bench.stack import Stack


def run_fanout_bench(options: FanoutBench) -> int:
    """Runs the bench and prints its report; 0 when every member got every message, else 1."""
    return run_bench(options.plan(), partial(_measure, options), partial(_show, options.as_json))


def _show(json: bool, report: FanoutReport) -> str:
    return as_json(report, report.ok) if json else format_fanout(report)


def _measure(options: FanoutBench, stack: Stack, deadline: float) -> FanoutReport:
    redis_server = "" if options.redis_url else "redis-server, "
    say(f"starting {redis_server}{stack.plan.webs} web processes")
    stack.start(deadline)
    say(f"fan-out: {options.members} members join room {ROOM!r}")
    problems, sent = Problems(), Sent.empty(options.messages)
    phase = fanout_phase(stack.ws_urls, options.members, sent, stack.pids(), problems)
    try:
        outcome = run_phase(phase, deadline, "fan-out")
    except BenchError as exc:
        progress = f"{sent.count} of {options.messages} messages sent, {sent.back} back at m0"
        raise BenchError(f"{exc}; {progress}") from None
    where = layout(stack, outcome.extensions)
    return FanoutReport(
        options.command(), now(), where, outcome.figures, problems.first, problems.count
    )
