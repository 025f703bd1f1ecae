"""`courier bench` as a user runs it, tiny: it starts its processes, checks every delivery and
reports figures (never judged here: a bench measures, the tests only check that it works)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def bench(*argv: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-m", "backend.cli", "bench", *argv, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report: dict[str, object] = json.loads(run.stdout)
    return report


def test_fanout_bench_checks_every_member_over_two_client_processes() -> None:
    report = bench("fanout", "--members", "6", "--messages", "20")
    assert report["ok"] is True and report["problem_count"] == 0
    fanout = report["fanout"]
    assert isinstance(fanout, dict)
    assert (fanout["members"], fanout["messages"]) == (6, 20)
    assert {"web-1", "web-2", "bench client", "bench helper"} <= set(fanout["cpu_seconds"])


def test_fanout_bench_with_members_that_never_read() -> None:
    """They are closed with 1013 once their outbox is full; the others get every message."""
    report = bench("fanout", "--members", "20", "--messages", "1500", "--not-reading", "10")
    assert report["ok"] is True, report["problems"]
    fanout = report["fanout"]
    assert isinstance(fanout, dict)
    assert (fanout["members"], fanout["not_reading"]) == (18, 2)
    assert fanout["closed"] == {"1013": 2}


def test_queue_bench_gets_every_result() -> None:
    report = bench("queue", "--jobs", "200", "--latency-jobs", "20", "--connections", "2")
    assert report["ok"] is True


@pytest.mark.slow
def test_fanout_bench_runs_on_its_own_local_cluster() -> None:
    report = bench("fanout", "--members", "6", "--messages", "20", "--redis-cluster")
    assert report["ok"] is True
    layout = report["layout"]
    assert isinstance(layout, dict) and str(layout["redis"]).startswith("Redis Cluster")
