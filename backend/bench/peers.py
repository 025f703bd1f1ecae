"""`courier bench peers`: Courier's figures next to its peers', measured in one run, one system
after another on the same machine, since figures from two runs or two machines do not compare.

The queue workload runs Courier (as `courier bench queue`), then arq, SAQ, RQ and Celery, each
peer with its defaults and with its documented tuning; the fan-out workload runs Courier (as
`courier bench fanout`), then FastAPI + broadcaster. Each peer runs from its own environment
(backend.bench.peers_envs); one whose environment is missing is skipped with a note. Every
system starts on its own redis-server and is stopped before the next, whatever happens.
"""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

from backend.bench.client import BenchError, say, sigterm_as_interrupt
from backend.bench.options import TIME_LIMIT, PeersBench
from backend.bench.peers_envs import environments, install, missing_note, versions
from backend.bench.peers_fanout import measure_broadcaster, measure_courier_room
from backend.bench.peers_queue import VARIANTS, measure_courier, measure_peer
from backend.bench.peers_report import PeersReport, QueueRow, RoomRow
from backend.bench.peers_text import as_text
from backend.bench.queue import WARMUP, WINDOW
from backend.bench.report import now
from backend.procs.redis_server import find_redis_server

Row = TypeVar("Row", QueueRow, RoomRow)
COURIER_PACKAGES = ("courier", "redis", "hiredis", "fastapi", "uvicorn", "websockets")


def run_peers_bench(options: PeersBench) -> int:
    """Prints the report; 0 when Courier's runs came back right, 1 when not (or the bench
    could not run), 130 when interrupted. A peer's failure is in the report, not the status."""
    report = PeersReport(options.command(), now(), _machine(), _workload(options))
    with sigterm_as_interrupt():
        try:
            _ready_peers(options, report)
            with tempfile.TemporaryDirectory(prefix="courier-bench-peers-") as directory:
                if options.queues():
                    _queue(options, report, Path(directory))
                if options.fanout():
                    _fanout(options, report, Path(directory))
        except KeyboardInterrupt:
            say("interrupted; everything it started is stopped")
            return 130
    print(report.as_json() if options.as_json else as_text(report))
    return 0 if report.ok else 1


def _ready_peers(options: PeersBench, report: PeersReport) -> None:
    """Makes the missing environments when asked; notes the peers left without one."""
    wanted = [*options.queues(), *(["broadcaster"] if options.fanout() else [])]
    for name in wanted:
        env = environments()[name]
        if options.install and versions(env) is None:
            say(f"making the {name} environment (pip install {' '.join(env.pins)})")
            failure = install(env)
            if failure:
                report.skipped[name] = f"its environment could not be made: {failure}"
        if versions(env) is None and name not in report.skipped:
            report.skipped[name] = missing_note(env)
    for name, why in report.skipped.items():
        say(f"skipping {name}: {why}")


def _queue(options: PeersBench, report: PeersReport, directory: Path) -> None:
    report.queue["courier"] = _row(
        QueueRow("Courier", "as `courier bench queue`"), lambda: measure_courier(options)
    )
    report.queue["courier"].versions = _courier_versions()
    for variant in VARIANTS:
        if variant.env not in options.queues() or variant.env in report.skipped:
            continue
        env = environments()[variant.env]
        row = _row(
            QueueRow(variant.key, variant.settings),
            lambda v=variant: measure_peer(v, options, directory),  # type: ignore[misc]
        )
        row.versions = versions(env) or {}
        report.queue[variant.key] = row


def _fanout(options: PeersBench, report: PeersReport, directory: Path) -> None:
    room = RoomRow("Courier", "as `courier bench fanout`")
    report.fanout["courier"] = _row(room, lambda: measure_courier_room(options))
    report.fanout["courier"].versions = _courier_versions()
    if "broadcaster" in report.skipped:
        return
    deadline = time.monotonic() + TIME_LIMIT
    peer = RoomRow("broadcaster", "")
    row = _row(peer, lambda: measure_broadcaster(options, directory, deadline))
    row.versions = versions(environments()["broadcaster"]) or {}
    report.fanout["broadcaster"] = row


def _row(failed: Row, measure: Callable[[], Row]) -> Row:
    """The measured row, or `failed` with the reason the bench could not run it."""
    started = time.monotonic()
    try:
        row = measure()
    except BenchError as exc:
        say(str(exc))
        failed.error = str(exc).splitlines()[0]
        return failed
    say(f"{row.name}: {'FAILED: ' + row.failed if row.failed else 'done'}"
        f" in {time.monotonic() - started:.1f}s")  # fmt: skip
    return row


def _courier_versions() -> dict[str, str]:
    found = {}
    for name in COURIER_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _workload(options: PeersBench) -> dict[str, object]:
    return {
        "jobs": options.jobs,
        "window": WINDOW,
        "latency_jobs": options.latency_jobs,
        "unmeasured_first": WARMUP,
        "peer_phase_seconds": options.seconds,
        "members": options.members,
        "messages": options.messages,
    }


def _machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count() or 0,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "redis_server": _redis_server_version(),
    }


def _redis_server_version() -> str:
    binary = find_redis_server()
    if binary is None:
        return "none found"
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"? ({exc})"
    version = next((w for w in done.stdout.split() if w.startswith("v=")), "v=?")
    return f"redis-server {version[2:]}"
