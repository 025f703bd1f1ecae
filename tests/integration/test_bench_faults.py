"""`courier bench faults`, small, one scenario per test: whatever dies mid-load (Redis by SIGTERM
or kill -9 on `appendfsync always`, a worker holding jobs, the web process holding the socket),
a careful client sees every frame answered, every accepted job end exactly once, and a dead
worker's jobs taken over within the visibility timeout although the other worker is busy."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from backend.bench.options import FAULT_VISIBILITY, SCENARIOS

JOBS = 150


def faults(scenario: str) -> dict[str, Any]:
    argv = ["bench", "faults", "--jobs", str(JOBS), "--only", scenario, "--json"]
    run = subprocess.run(
        [sys.executable, "-m", "backend.cli", *argv],
        capture_output=True,
        text=True,
        timeout=140,
        check=False,
    )
    assert run.stdout, run.stderr[-3000:]
    found: dict[str, Any] = json.loads(run.stdout)["scenarios"][scenario]
    return found


def assert_guarantees(found: dict[str, Any]) -> str:
    """Every frame answered, every accepted job ended once; returns the evidence to show."""
    why = json.dumps({k: found[k] for k in ("fault", "traces", "notes", "log")}, indent=1)
    assert not found["fault"].startswith("not injected"), why
    assert found["open_at_fault"] > 0, why  # jobs accepted, not yet ended, when it struck
    assert found["sent"] == JOBS, why
    answered = (found["unanswered"], found["errors"], found["extra_jobs"])
    assert answered == (0, 0, 0), why
    assert found["accepted"] == JOBS, why
    assert (found["lost"], found["duplicated_results"]) == (0, 0), why
    assert found["results"] == JOBS, why
    return why


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "worker_kill"])
def test_every_frame_is_answered_and_every_accepted_job_ends_once(scenario: str) -> None:
    """redis_kill is the durability case: kill -9 of Redis on `appendfsync always` while jobs
    it accepted are queued or running, and none of them is lost."""
    assert_guarantees(faults(scenario))


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_killed_workers_jobs_are_taken_over_within_the_visibility_timeout() -> None:
    """Its jobs are older than the backlog the other worker is busy with, so they go first: a
    take-over waits for the visibility timeout and the next take-over round, not for the
    backlog (about three visibility timeouts of work) to drain."""
    found = faults("worker_kill")
    why = assert_guarantees(found)
    assert found["taken_over"] > 0, why
    assert found["takeover_seconds"] is not None, why
    assert found["takeover_seconds"] <= 2 * FAULT_VISIBILITY, why
    assert found["reruns"] >= found["taken_over"], why
