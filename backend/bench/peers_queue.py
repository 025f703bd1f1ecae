"""The queue workload of `courier bench peers`: uppercase jobs, each result back to the
producer, on Courier and on each peer, with one worker process and a private redis-server each.

Courier is measured as `courier bench queue` measures it (its processes, client and checks), on
one connection, so it keeps the same WINDOW of jobs outstanding as every peer's producer. A peer
runs from its own environment (backend.bench.peers_envs): its worker as its documentation
starts one, and `peer_apps/peer_drive.py` as the producer, which sends through the peer's client
API, checks every result and answers in JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from backend.bench.client import BenchError, run_phase, say
from backend.bench.figures import Spread
from backend.bench.options import PeersBench, QueueBench
from backend.bench.peers_envs import environments, python
from backend.bench.peers_report import QueueRow, row_from_phases
from backend.bench.queue import WARMUP, WINDOW, Tally, latency_phase, throughput_phase
from backend.bench.stack import Stack, run_stack
from backend.procs.child import Child, die_with_parent, terminate
from backend.procs.redis_server import RedisServer, RedisServerError

APPS = Path(__file__).with_name("peer_apps")
START_SECONDS = 30.0  # for a peer's worker to take its first job
# A result not back this long after a phase stopped sending is missing: long enough for the
# slowest peer (a forking RQ worker, arq polling every 0.5 s) to work off a full window.
RESULT_SECONDS = 30.0
QUIET = "WARNING"  # every system logs warnings only, as Courier's processes do in a bench


@dataclass(frozen=True)
class Variant:
    """One row: a peer with its defaults, or with its documented tuning."""

    key: str
    env: str
    tuned: bool
    worker: tuple[str, ...]  # after the peer's python; {url} is its Redis
    settings: str


ARQ = ("-m", "arq", "arq_app.WorkerSettings", "--custom-log-dict", "arq_app.QUIET_LOGS")
RQ = ("-m", "rq.cli", "worker", "--url", "{url}", "--logging_level", QUIET, "bench")
CELERY = ("-m", "celery", "-A", "celery_app", "worker", "--loglevel", QUIET)
VARIANTS = (
    Variant("arq", "arq", False, ARQ, "defaults: max_jobs 10, poll_delay 0.5 s (worker, result)"),
    Variant("arq_tuned", "arq", True, ARQ, "max_jobs 100, poll_delay 10 ms (worker, result)"),
    Variant(
        "saq",
        "saq",
        False,
        ("-m", "saq", "saq_app.settings"),
        "defaults: concurrency 10, apply polls every 0.5 s",
    ),
    Variant(
        "saq_tuned",
        "saq",
        True,
        ("-m", "saq", "saq_app.settings"),
        "concurrency 100, apply poll_interval 10 ms",
    ),
    Variant("rq", "rq", False, RQ, "defaults: Worker, a forked process per job"),
    Variant(
        "rq_tuned",
        "rq",
        True,
        (*RQ[:-1], "-w", "rq.worker.SimpleWorker", RQ[-1]),
        "SimpleWorker: jobs run in the worker process",
    ),
    Variant(
        "celery",
        "celery",
        False,
        (*CELERY, "-c", "1"),
        "prefork pool -c 1, prefetch multiplier 4, Redis broker and result backend",
    ),
    Variant(
        "celery_tuned",
        "celery",
        True,
        (*CELERY, "--pool", "solo"),
        "solo pool, prefetch multiplier 128, Redis broker and result backend",
    ),
)


def measure_courier(options: PeersBench) -> QueueRow:
    queue = QueueBench(connections=1, jobs=options.jobs, latency_jobs=options.latency_jobs)
    say(f"courier: {queue.jobs} jobs, up to {WINDOW} outstanding, then {queue.latency_jobs} alone")
    return run_stack(queue.plan(), partial(_courier, queue))


def _courier(queue: QueueBench, stack: Stack, deadline: float) -> QueueRow:
    tally = Tally.empty(queue.jobs)
    run_phase(throughput_phase(stack.ws_url, queue, tally), deadline, "courier throughput")
    tally.verify()
    throughput = tally.figures(queue.connections, {})
    samples: list[float] = []
    if queue.latency_jobs:
        samples = run_phase(
            latency_phase(stack.ws_url, queue.latency_jobs, tally.problems), deadline, "latency"
        )
    row = QueueRow("Courier", f"1 web + 1 worker (concurrency {queue.concurrency}), one WebSocket")
    row.jobs = sum(1 for count in tally.results if count == 1)
    row.seconds = throughput.seconds
    row.latency, row.latency_jobs = Spread.of(samples), len(samples)
    row.sent = queue.jobs + (WARMUP + queue.latency_jobs if queue.latency_jobs else 0)
    row.right = max(0, row.sent - tally.problems.count)
    row.problems, row.problem_count = tally.problems.first, tally.problems.count
    return row


def measure_peer(variant: Variant, options: PeersBench, directory: Path) -> QueueRow:
    """Its own redis-server and worker, then the producer; all stopped whatever happens."""
    env = environments()[variant.env]
    say(f"{variant.key}: {variant.settings}")
    redis = RedisServer(directory / variant.key / "redis")
    try:
        url = redis.start()
    except RedisServerError as exc:
        raise BenchError(f"{variant.key}: could not start redis-server: {exc}") from None
    children = _environment(url, variant.tuned)
    argv = [str(python(env)), *(arg.format(url=url) for arg in variant.worker)]
    worker = Child(f"{variant.key} worker", argv, directory / f"{variant.key}.log", cwd=APPS)
    try:
        worker.start(children)
        phases = _drive(variant, options, url, children, worker)
    finally:
        terminate([worker], 5.0)
        redis.stop(timeout=5.0)
    return row_from_phases(variant.key, variant.settings, phases)


def _environment(url: str, tuned: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURIER_", "PYTHON"))}
    env.update(PEER_REDIS_URL=url, PEER_TUNED="1" if tuned else "0", PYTHONPATH=str(APPS))
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _drive(
    variant: Variant, options: PeersBench, url: str, env: dict[str, str], worker: Child
) -> dict[str, dict[str, object]]:
    config = {
        "adapter": f"{variant.env}_app",
        "url": url,
        "jobs": options.jobs,
        "latency_jobs": options.latency_jobs,
        "window": WINDOW,
        "warmup": WARMUP,
        "seconds": options.seconds,
        "start_seconds": START_SECONDS,
        "result_seconds": RESULT_SECONDS,
    }
    limit = START_SECONDS + 4 * (options.seconds + RESULT_SECONDS) + 30
    argv = [str(python(environments()[variant.env])), str(APPS / "peer_drive.py")]
    started = time.monotonic()
    try:
        done = subprocess.run(
            [*argv, json.dumps(config)], env=env, cwd=APPS, capture_output=True, text=True,
            timeout=limit, check=False, start_new_session=True,
            preexec_fn=die_with_parent,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise BenchError(f"{variant.key}: the producer ran past {limit:.0f}s") from None
    if done.returncode != 0 or worker.exited:
        tail = done.stderr.strip().splitlines()[-3:]
        raise BenchError(
            f"{variant.key}: producer exit {done.returncode} after"
            f" {time.monotonic() - started:.0f}s: {' | '.join(tail)}\n"
            f"worker log: {worker.log_tail()}"
        )
    phases: dict[str, dict[str, object]] = json.loads(done.stdout)
    return phases
