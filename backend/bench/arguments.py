"""`courier bench ...` on the command line: each bench's options, and the call that runs it.

Kept apart from the benches themselves, which import the WebSocket client and the process
plumbing only when a bench runs, so `courier web` and `courier worker` do not pay for them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TypeAlias

from backend.bench.aof_redis import FSYNC_POLICIES
from backend.bench.options import (
    PEER_CHOICES,
    SCENARIOS,
    ConnectionsBench,
    FanoutBench,
    FaultsBench,
    PeersBench,
    QueueBench,
)
from backend.settings import Settings, check_redis_url

MAX_BENCH_JOBS = 1_000_000
MAX_BENCH_MEMBERS = 10_000  # one socket each in the bench, and half as many per web process
MAX_BENCH_MESSAGES = 100_000
MAX_FAULT_JOBS = 10_000  # each scenario's load must end well within its 120 s
MAX_BENCH_SOCKETS = 25_000  # one client host reaches one port from about 28,000 local ports

Kinds: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_bench_commands(bench: argparse.ArgumentParser) -> None:
    kinds = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    _add_queue_bench(kinds)
    _add_fanout_bench(kinds)
    _add_faults_bench(kinds)
    _add_peers_bench(kinds)
    _add_connections_bench(kinds)


def _add_queue_bench(kinds: Kinds) -> None:
    queue = kinds.add_parser(
        "queue",
        help="queue jobs/s and latency through /ws, against processes it starts and stops",
    )
    add = queue.add_argument
    add("--connections", type=_between(1, 1024), default=4, metavar="K",
        help="WebSockets sharing the jobs (default 4)")  # fmt: skip
    add("--jobs", type=_between(1, MAX_BENCH_JOBS), default=20_000, metavar="N",
        help="jobs in the throughput phase (default 20000)")  # fmt: skip
    add("--latency-jobs", type=_between(0, MAX_BENCH_JOBS), default=2_000, metavar="M",
        help="jobs sent one at a time in the latency phase; 0 skips it (default 2000)")  # fmt: skip
    add("--workers", type=_between(1, 64), default=1, metavar="W",
        help="worker processes (default 1)")  # fmt: skip
    add("--concurrency", type=_between(1, 1024), metavar="C",
        help="jobs each worker runs at once (default COURIER_WORKER_CONCURRENCY, 16)")  # fmt: skip
    add("--appendfsync", choices=FSYNC_POLICIES,
        help="run its own Redis with an append-only file and this fsync policy"
        " (default: no persistence)")  # fmt: skip
    _add_common(queue)


def _add_fanout_bench(kinds: Kinds) -> None:
    fanout = kinds.add_parser(
        "fanout",
        help="chat messages/s and latency to every member of one room over 2 web processes",
    )
    add = fanout.add_argument
    add("--members", type=_between(2, MAX_BENCH_MEMBERS), default=200, metavar="M",
        help="WebSockets in the room, split over the 2 web processes (default 200)")  # fmt: skip
    add("--not-reading", type=_between(0, 50), default=0, metavar="P",
        help="P%% of the members join and then read nothing; the web processes get"
        " COURIER_SEND_BUFFER_BYTES=16384 and COURIER_OUTBOX_MAX=100 (default 0)")  # fmt: skip
    add("--messages", type=_between(1, MAX_BENCH_MESSAGES), default=500, metavar="N",
        help="chat messages one member sends to the room (default 500)")  # fmt: skip
    _add_common(fanout)


def _add_faults_bench(kinds: Kinds) -> None:
    faults = kinds.add_parser(
        "faults",
        help="kill or restart Redis, a worker and a web process under load, and count what a"
        " careful client saw: unanswered frames, lost jobs, results twice",
    )
    add = faults.add_argument
    add("--jobs", type=_between(1, MAX_FAULT_JOBS), default=2_000, metavar="N",
        help="jobs sent in each scenario (default 2000)")  # fmt: skip
    add("--only", type=_scenarios, default=SCENARIOS, metavar="S[,S...]",
        help=f"run only these scenarios, in this order (of {', '.join(SCENARIOS)})")  # fmt: skip
    add("--json", action="store_true", help="print the figures as JSON")


def _add_peers_bench(kinds: Kinds) -> None:
    peers = kinds.add_parser(
        "peers",
        help="the queue and the fan-out workloads on Courier and on arq, SAQ, RQ, Celery and"
        " FastAPI + broadcaster, one after another, each peer from its own environment",
    )
    add = peers.add_argument
    add("--jobs", type=_between(1, MAX_BENCH_JOBS), default=5_000, metavar="N",
        help="jobs in each system's throughput phase (default 5000)")  # fmt: skip
    add("--latency-jobs", type=_between(1, MAX_BENCH_JOBS), default=500, metavar="M",
        help="jobs sent one at a time in each system's latency phase (default 500)")  # fmt: skip
    add("--members", type=_between(2, MAX_BENCH_MEMBERS), default=200, metavar="M",
        help="room members in the fan-out workload (default 200)")  # fmt: skip
    add("--messages", type=_between(1, MAX_BENCH_MESSAGES), default=500, metavar="N",
        help="chat messages in the fan-out workload (default 500)")  # fmt: skip
    add("--seconds", type=_between(1, 600), default=20, metavar="S",
        help="a peer's phase stops sending after S seconds (default 20)")  # fmt: skip
    add("--only", type=_peer_choices, default=PEER_CHOICES, metavar="X[,X...]",
        help=f"run only these workloads or peers (of {', '.join(PEER_CHOICES)});"
        " Courier runs in every workload that runs")  # fmt: skip
    add("--install", action="store_true",
        help="first make the missing peer environments (pip, a minute or two)")  # fmt: skip
    add("--json", action="store_true", help="print the figures as JSON")


def _add_connections_bench(kinds: Kinds) -> None:
    sockets = kinds.add_parser(
        "connections",
        help="memory per idle /ws socket on one web process and in Redis, and what Redis keeps"
        " once they close",
    )
    add = sockets.add_argument
    add("--sockets", type=_between(1, MAX_BENCH_SOCKETS), default=1_000, metavar="N",
        help="idle WebSockets held open on the one web process (default 1000)")  # fmt: skip
    add("--rooms", type=_between(0, MAX_BENCH_SOCKETS), default=0, metavar="K",
        help="each socket joins one of K chat rooms; 0 joins none (default 0)")  # fmt: skip
    add("--json", action="store_true", help="print the figures as JSON")


def _add_common(bench: argparse.ArgumentParser) -> None:
    bench.add_argument(
        "--redis-url",
        type=_redis_url,
        metavar="URL",
        help="use this Redis (keys under a bench-only prefix) instead of starting one",
    )
    bench.add_argument(
        "--redis-cluster",
        action="store_true",
        help="run on a Redis Cluster: a local 6-node one, or the one --redis-url names a node of",
    )
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")


def run_bench_command(args: argparse.Namespace, settings: Settings) -> int:
    """Runs the bench the arguments name; its exit status."""
    if args.bench == "peers":
        from backend.bench.peers import run_peers_bench

        return run_peers_bench(
            PeersBench(
                args.jobs, args.latency_jobs, args.members, args.messages, float(args.seconds),
                args.only, args.install, args.json,
            )
        )  # fmt: skip
    if args.bench == "connections":
        from backend.bench.connections import run_connections_bench

        return run_connections_bench(ConnectionsBench(args.sockets, args.rooms, args.json))
    if args.bench == "faults":
        from backend.bench.faults import run_faults_bench

        return run_faults_bench(FaultsBench(args.jobs, args.only, args.json))
    common = {
        "redis_url": args.redis_url,
        "as_json": args.json,
        "redis_cluster": args.redis_cluster,
    }
    if args.bench == "fanout":
        from backend.bench.fanout import run_fanout_bench

        bench = FanoutBench(args.members, args.messages, not_reading=args.not_reading, **common)
        return run_fanout_bench(bench)
    if args.appendfsync and (args.redis_url or args.redis_cluster):
        print("courier bench: --appendfsync is for its own redis-server only", file=sys.stderr)
        return 2
    from backend.bench.queue import run_queue_bench

    concurrency = args.concurrency or settings.worker_concurrency
    queue = QueueBench(args.connections, args.jobs, args.latency_jobs, args.workers, concurrency)
    return run_queue_bench(replace(queue, appendfsync=args.appendfsync, **common))


def _between(low: int, high: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return whole_number


def _scenarios(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"scenarios are {', '.join(SCENARIOS)}; got {text!r}")
    return names


def _peer_choices(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in PEER_CHOICES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(PEER_CHOICES)}; got {text!r}")
    return names


def _redis_url(text: str) -> str:
    try:
        return check_redis_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
