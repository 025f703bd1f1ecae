"""The `courier` command: `run` for everything at once, one role per process, or `bench`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from backend.bench.arguments import add_bench_commands, run_bench_command
from backend.settings import Settings, SettingsError, load_settings


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
    add_bench_commands(roles.add_parser("bench", help="measure the app on this machine"))
    return parser


def _add_listen_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default COURIER_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=_port, help="port (default COURIER_PORT or 8000)")


def _count(text: str) -> int:
    return _between(text, 0, 64)


def _positive(text: str) -> int:
    return _between(text, 1, 1024)


def _port(text: str) -> int:
    return _between(text, 1, 65535)


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
        return run_bench_command(args, settings)
    from backend.procs.subscriber import run_subscriber

    return run_subscriber(settings)


if __name__ == "__main__":
    sys.exit(main())
