"""`courier bench faults`: what happens to a job when something dies, as a run anyone can repeat.

Each scenario starts its own stack (redis-server with AOF and `appendfsync always`, two web
processes, two workers), so no count leaks into the next one, pushes one resumable session's
jobs through it (backend.bench.faults_client), and injects one fault mid-load:

- redis_restart: Redis gets SIGTERM and is started again on the same AOF and port 1 s later;
- redis_kill: the same with SIGKILL (kill -9);
- worker_kill: kill -9 of a worker that holds jobs while others wait in the queue; its jobs
  must be taken over within the visibility timeout although the other worker is busy;
- web_kill: kill -9 of the web process holding the socket; the client resumes on the other.
"""

from __future__ import annotations

import asyncio
import json
import platform
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import redis

from backend.bench.client import BenchError, run_phase, say, sigterm_as_interrupt
from backend.bench.faults_client import Session
from backend.bench.faults_injected import Injection, inject
from backend.bench.faults_report import FaultsReport, Outcome, outcome
from backend.bench.faults_trace import Frame, Ledger, at_fault, takeover
from backend.bench.options import FAULT_VISIBILITY, FaultsBench
from backend.bench.report import now
from backend.bench.stack import Stack, run_stack
from backend.core.keys import Keys

WINDOW = 256  # frames without a reply plus jobs without a final event, at most
SLACK = 10.0  # seconds kept from the scenario's time limit to read back and stop
LOG_LINE = re.compile(r"WARNING|ERROR|CRITICAL|Traceback")


def run_faults_bench(options: FaultsBench) -> int:
    """Runs each scenario on a stack of its own and prints one report; 0 when every scenario
    is ok, 1 when one is not or the bench could not run, 130 when interrupted."""
    plan = options.plan()
    processes = f"{plan.describe()}; COURIER_VISIBILITY_TIMEOUT={FAULT_VISIBILITY:g}"
    machine = f"{platform.python_version()}, {platform.platform(terse=True)}"
    report = FaultsReport(options.command(), now(), processes, f"Python {machine}")
    with sigterm_as_interrupt():
        try:
            for name in options.only:
                say(f"{name}: {options.jobs} jobs over one session, fault mid-load")
                report.scenarios[name] = run_stack(plan, partial(_scenario, options, name))
        except BenchError as exc:
            say(str(exc))
            return 1
        except KeyboardInterrupt:
            say("interrupted; everything it started is stopped")
            return 130
    print(report.as_json() if options.as_json else report.as_text())
    return 0 if report.ok else 1


def _scenario(options: FaultsBench, name: str, stack: Stack, deadline: float) -> Outcome:
    task, args = _load(name, options)
    ledger = Ledger(_frames(options.jobs, task, args))
    session = Session(stack.ws_urls, ledger, WINDOW, deadline - SLACK - time.monotonic())
    injection = Injection(name)
    phase = _phase(session, partial(inject, injection, stack, session))
    run_phase(phase, deadline, name)
    found = outcome(ledger, _runs(stack, ledger), injection.what, _task_text(task, args))
    if injection.at is not None:
        found.accepted_before_fault, found.open_at_fault = at_fault(ledger, injection.at)
    if name == "worker_kill" and injection.at is not None:
        _taken_over(found, takeover(ledger, injection.dead, injection.at))
    found.log = _log(stack)
    return found


def _taken_over(found: Outcome, seconds: list[float | None]) -> None:
    """The last take-over is the figure; when each came shows how the backlog delayed them."""
    found.taken_over = len(seconds)
    done = sorted(s for s in seconds if s is not None)
    last = done[-1] if done and len(done) == len(seconds) else None
    found.takeover_seconds = None if last is None else round(last, 2)
    never = len(seconds) - len(done)
    when = ", ".join(f"{s:.1f}" for s in done) + (f" and {never} never" if never else "")
    found.notes.append(f"the dead worker's {len(seconds)} jobs started again after: {when} s")


def _load(name: str, options: FaultsBench) -> tuple[str, dict[str, float]]:
    """Upper-casing, except for the worker kill: jobs that sleep long enough that the surviving
    worker is busy with the backlog for about three visibility timeouts after the kill."""
    if name != "worker_kill":
        return "uppercase", {}
    concurrency = options.plan().concurrency
    seconds = 3 * FAULT_VISIBILITY * concurrency / options.jobs
    return "sleep", {"seconds": round(min(2.0, max(0.05, seconds)), 3)}


def _task_text(task: str, args: dict[str, float]) -> str:
    return f"{task} {args['seconds']:g}s" if args else task


def _frames(count: int, task: str, args: dict[str, float]) -> list[Frame]:
    """Each with its own ref and idempotency key (the key unique to this run)."""
    run = secrets.token_hex(4)
    frames = []
    for index in range(count):
        ref = f"f{index}"
        message: dict[str, Any] = {"type": "send", "mode": "queue", "task": task}
        message["text"] = f"fault {index}"
        message |= {"args": args, "ref": ref, "key": f"{run}-{index}"}
        frames.append(Frame(ref, json.dumps(message, separators=(",", ":"))))
    return frames


async def _phase(session: Session, fault: Callable[[], Awaitable[None]]) -> None:
    """The load, with the fault injected at its moment; the fault's own failure ends the run."""
    load = asyncio.create_task(session.run())
    try:
        await fault()
        await load
    finally:
        load.cancel()


def _runs(stack: Stack, ledger: Ledger) -> dict[str, int] | None:
    """How many times a worker started each accepted job, from the job hashes in Redis."""
    keys = Keys(stack.prefix)
    ids = [job.id for job in ledger.jobs.values() if job.accepted]
    try:
        with redis.Redis.from_url(stack.redis_url, socket_timeout=10) as client:
            runs: dict[str, int] = {}
            for start in range(0, len(ids), 1000):
                batch = ids[start : start + 1000]
                with client.pipeline(transaction=False) as pipe:
                    for job_id in batch:
                        pipe.hget(keys.job(job_id), "runs")
                    runs |= {i: int(n or 0) for i, n in zip(batch, pipe.execute(), strict=True)}
            return runs
    except redis.RedisError as exc:
        say(f"could not read the jobs back from Redis: {exc}")
        return None


def _log(stack: Stack) -> list[str]:
    """The warnings and errors the processes logged (the first few of each), which explain
    most of what a client saw."""
    lines: list[str] = []
    for child in stack.children:
        found = [line for line in child.output().splitlines() if LOG_LINE.search(line)]
        lines += [f"{child.name}: {line[:300]}" for line in found[:4]]
        if len(found) > 4:
            lines.append(f"{child.name}: ... {len(found) - 4} more")
    return lines
