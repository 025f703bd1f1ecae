"""How a job runs, as its sender asks: delayed, by priority, once per idempotency key, within its
task's rate limit. Real redis-server, real web and worker processes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import Opener
from tests.processes import Stack, http_json, wait_until

pytestmark = pytest.mark.cluster

FAST = {"retry_backoff": "0.05", "shutdown_grace": "0.3", "visibility_timeout": "2"}


def post(base: str, **body: Any) -> tuple[int, Any]:
    return http_json(base + "/api/jobs", "POST", {"task": "uppercase", "text": "x", **body})


def job(base: str, job_id: str) -> dict[str, Any]:
    status, found = http_json(f"{base}/api/jobs/{job_id}")
    assert status == 200, found
    return dict(found)


def finished(base: str, ids: list[str], timeout: float = 30) -> list[dict[str, Any]]:
    wait_until(
        lambda: all(job(base, i)["status"] == "succeeded" for i in ids), timeout, "jobs done"
    )
    return [job(base, i) for i in ids]


async def test_a_delayed_job_starts_no_earlier_than_asked_through_restarts(stack: Stack) -> None:
    stack.settings.update(FAST)
    base = stack.web()
    worker = stack.worker()
    status, created = post(base, text="later", delay=3)
    assert status == 202 and created["run_at"] > time.time() + 2
    assert job(base, created["id"])["status"] == "queued"
    # every process goes away and comes back while the job waits
    worker.stop()
    stack.roles[0].stop()
    base = stack.web()
    stack.worker()
    [done] = finished(base, [created["id"]])
    assert done["started"] >= created["run_at"]
    assert done["result"] == "LATER"
    status, at_job = post(base, text="at", at=time.time() + 1.5)
    [done] = finished(base, [at_job["id"]])
    assert done["started"] >= at_job["run_at"]


async def test_higher_priority_first_and_first_in_first_out_within_one(stack: Stack) -> None:
    stack.settings.update({**FAST, "worker_concurrency": "1"})
    base = stack.web()
    sent: list[tuple[int, str]] = []
    for i in range(12):  # 1, 5, 9, 1, 5, 9 ... queued while no worker runs
        priority = (1, 5, 9)[i % 3]
        status, created = post(base, text=f"p{priority}-{i}", priority=priority)
        assert status == 202
        sent.append((priority, created["id"]))
    status, report = http_json(base + "/api/queue")
    assert report["waiting_by_priority"] == {"1": 4, "5": 4, "9": 4}
    stack.worker()
    jobs = finished(base, [job_id for _, job_id in sent])
    order = [j["id"] for j in sorted(jobs, key=lambda j: j["started"])]
    expected = [job_id for _, job_id in sorted(sent, key=lambda s: -s[0])]  # stable: FIFO
    assert order == expected


async def test_a_key_in_use_answers_with_the_first_job_and_runs_nothing(
    stack: Stack, ws: Opener
) -> None:
    stack.settings.update(FAST)
    base = stack.web()
    status, first = post(base, text="once", key="invoice-42")
    assert status == 202 and first["duplicate"] is False
    status, again = post(base, text="twice", key="invoice-42")
    assert status == 202
    assert again["id"] == first["id"] and again["duplicate"] is True
    client = await ws(base)
    await client.send({"type": "send", "text": "thrice", "key": "invoice-42", "ref": "k"})
    accepted = await client.until(lambda e: e["type"] == "accepted" and e["ref"] == "k")
    assert accepted["id"] == first["id"] and accepted["duplicate"] is True
    stack.worker()
    [done] = finished(base, [first["id"]])
    assert done["result"] == "ONCE"
    status, report = http_json(base + "/api/queue")
    assert report["enqueued"] == 1 and report["succeeded"] == 1, "one job, one run"
    assert client.of(first["id"], "result") == [], "the duplicate's sender is not its owner"


async def test_a_rate_limit_holds_across_two_workers_and_jobs_wait_not_fail(
    stack: Stack,
) -> None:
    stack.settings.update({**FAST, "task_rates": '{"uppercase": "10/s"}'})
    base = stack.web()
    ids = [post(base, text=f"r{i}")[1]["id"] for i in range(60)]
    stack.worker()
    stack.worker()
    wait_until(lambda: http_json(base + "/api/queue")[1]["rate_limited"] > 0, 10, "jobs held back")
    jobs = finished(base, ids, timeout=40)
    starts = sorted(j["started"] for j in jobs)
    # in any window of one second, at most 10 starts (the limit itself, nothing tighter)
    busiest = max(sum(1 for s in starts if first <= s < first + 1.0) for first in starts)
    assert busiest <= 10, f"{busiest} starts within one second"
    assert all(j["attempts"] == 1 for j in jobs), "held back, never failed"
    assert starts[-1] - starts[0] >= 4.5, "60 jobs at 10/s take about 5 s"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"delay": -1}, "invalid_delay"),
        ({"priority": 12}, "invalid_priority"),
        ({"timeout": 0}, "invalid_timeout"),
        ({"key": "k" * 129}, "invalid_key"),
        ({"delay": 1, "at": time.time() + 5}, "delay_and_at"),
    ],
)
async def test_bad_options_get_a_specific_code_over_rest_and_websocket(
    stack: Stack, ws: Opener, fields: dict[str, Any], code: str
) -> None:
    base = stack.web()
    status, body = post(base, **fields)
    assert (status, body["error"]) == (422, code), body
    client = await ws(base)
    await client.send({"type": "send", "text": "x", "ref": "bad", **fields})
    error = await client.until(lambda e: e["type"] == "error")
    assert (error["code"], error["ref"]) == (code, "bad"), error
