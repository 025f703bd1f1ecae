"""The `courier` command: `run` for everything at once, one role per process, or `bench`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from backend.settings import Settings, SettingsError, check_redis_url, load_settings

MAX_BENCH_JOBS = 1_000_000
MAX_BENCH_MEMBERS = 1_000  # one socket each in the bench, and half as many per web process
MAX_BENCH_MESSAGES = 100_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="courier",
        description="Real-time messaging with FastAPI, Redis and WebSockets.",
        epilog="Settings come from COURIER_* environment variables (and .env); see docs/.",
    )
    roles = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = roles.add_parser("run", help="the whole app: web, workers, subscribers (and Redis)")
    _add_listen_options(run)
    run.add_argument("--workers", type=_count, default=2, help="worker processes (default 2)")
    run.add_argument(
        "--subscribers", type=_count, default=2, help="subscriber processes (default 2)"
    )

    web = roles.add_parser("web", help="the web server alone")
    _add_listen_options(web)

    worker = roles.add_parser("worker", help="one queue worker process")
    worker.add_argument(
        "--concurrency",
        type=_positive,
        help="jobs run at once (default COURIER_WORKER_CONCURRENCY or 16)",
    )
    worker.add_argument(
        "--burst", action="store_true", help="process what is queued now, then exit"
    )
    roles.add_parser("subscriber", help="one pub/sub subscriber process")
    _add_bench(roles.add_parser("bench", help="measure the app on this machine (not a test)"))
    return parser


def _add_bench(bench: argparse.ArgumentParser) -> None:
    kinds = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    _add_queue_bench(kinds)
    _add_fanout_bench(kinds)


def _add_queue_bench(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    queue = kinds.add_parser(
        "queue",
        help="queue jobs/s and latency through /ws, against processes it starts and stops",
    )
    queue.add_argument(
        "--connections",
        type=_positive,
        default=4,
        metavar="K",
        help="WebSockets sharing the jobs (default 4)",
    )
    queue.add_argument(
        "--jobs",
        type=_jobs,
        default=20_000,
        metavar="N",
        help="jobs in the throughput phase (default 20000)",
    )
    queue.add_argument(
        "--latency-jobs",
        type=_samples,
        default=2_000,
        metavar="M",
        help="jobs sent one at a time in the latency phase; 0 skips it (default 2000)",
    )
    queue.add_argument(
        "--workers", type=_workers, default=1, metavar="W", help="worker processes (default 1)"
    )
    queue.add_argument(
        "--concurrency",
        type=_positive,
        metavar="C",
        help="jobs each worker runs at once (default COURIER_WORKER_CONCURRENCY or 16)",
    )
    _add_bench_common(queue)


def _add_fanout_bench(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fanout = kinds.add_parser(
        "fanout",
        help="chat messages/s and latency to every member of one room over 2 web processes",
    )
    fanout.add_argument(
        "--members",
        type=_members,
        default=200,
        metavar="M",
        help="WebSockets in the room, split over the 2 web processes (default 200)",
    )
    fanout.add_argument(
        "--messages",
        type=_messages,
        default=500,
        metavar="N",
        help="chat messages one member sends to the room (default 500)",
    )
    _add_bench_common(fanout)


def _add_bench_common(bench: argparse.ArgumentParser) -> None:
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


def _add_listen_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default COURIER_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=_port, help="port (default COURIER_PORT or 8000)")


def _count(text: str) -> int:
    return _between(text, 0, 64)


def _workers(text: str) -> int:
    return _between(text, 1, 64)


def _positive(text: str) -> int:
    return _between(text, 1, 1024)


def _port(text: str) -> int:
    return _between(text, 1, 65535)


def _jobs(text: str) -> int:
    return _between(text, 1, MAX_BENCH_JOBS)


def _samples(text: str) -> int:
    return _between(text, 0, MAX_BENCH_JOBS)


def _members(text: str) -> int:
    return _between(text, 2, MAX_BENCH_MEMBERS)


def _messages(text: str) -> int:
    return _between(text, 1, MAX_BENCH_MESSAGES)


def _between(text: str, low: int, high: int) -> int:
    value = _integer(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _redis_url(text: str) -> str:
    try:
        return check_redis_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"courier: {exc}", file=sys.stderr)
        return 2
    return _dispatch(args, settings)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        from backend.procs.supervisor import Supervisor, SupervisorError

        supervisor = Supervisor(
            settings,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers,
            subscribers=args.subscribers,
        )
        try:
            return supervisor.run()
        except SupervisorError as exc:
            print(f"courier: {exc}", file=sys.stderr)
            return 1
    if args.command == "web":
        from backend.web.server import serve

        return serve(settings, host=args.host or settings.host, port=args.port or settings.port)
    if args.command == "worker":
        from backend.procs.worker import run_worker

        if args.concurrency:
            settings = settings.model_copy(update={"worker_concurrency": args.concurrency})
        return run_worker(settings, burst=args.burst)
    if args.command == "bench":
        return _bench(args, settings)
    from backend.procs.subscriber import run_subscriber

    return run_subscriber(settings)


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from backend.bench import FanoutBench, QueueBench, run_fanout_bench, run_queue_bench

    common = {
        "redis_url": args.redis_url,
        "as_json": args.json,
        "redis_cluster": args.redis_cluster,
    }
    if args.bench == "fanout":
        return run_fanout_bench(FanoutBench(args.members, args.messages, **common))
    concurrency = args.concurrency or settings.worker_concurrency
    queue = QueueBench(args.connections, args.jobs, args.latency_jobs, args.workers, concurrency)
    return run_queue_bench(replace(queue, **common))


if __name__ == "__main__":
    sys.exit(main())
