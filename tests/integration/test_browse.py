"""Browsing jobs over REST and live in the console: filters, cursors over hundreds of jobs,
per-task counts, bulk dead-letter actions, and jobs from anywhere showing up."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest
import redis as sync_redis
from websockets.asyncio.client import connect

from backend.core.keys import Keys
from backend.sessions.protocol import new_session_id
from tests.processes import Stack, http_json, wait_until


def call(base: str, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    return http_json(base + path, method, body)


def submit(base: str, task: str, text: str, **args: Any) -> str:
    status, created = call(base, "/api/jobs", "POST", {"task": task, "text": text, "args": args})
    assert status == 202, created
    return str(created["id"])


def walk(base: str, query: str, limit: int = 37) -> list[dict[str, Any]]:
    """Every page of GET /api/jobs, following `next`."""
    jobs: list[dict[str, Any]] = []
    cursor = ""
    while True:
        _, page = call(base, f"/api/jobs?{query}&limit={limit}{cursor}")
        jobs += page["jobs"]
        if page["next"] is None:
            return jobs
        cursor = f"&cursor={page['next']}"


@pytest.fixture
def base(stack: Stack) -> str:
    stack.settings.update(retry_backoff="0.01", max_attempts="2", rate_limit="100000")
    url = stack.web()
    stack.worker()
    return url


def test_pages_cover_every_job_once_newest_first_with_filters(base: str) -> None:
    ids = [submit(base, "uppercase" if i % 3 else "fail", f"browse {i}") for i in range(300)]
    wait_until(lambda: call(base, "/api/queue")[1]["depth"] == 0, 30, "the queue to drain")
    wait_until(lambda: len(walk(base, "status=dead")) == 100, 30, "100 dead letters")
    every = walk(base, "q=browse")
    assert [job["id"] for job in every] == ids[::-1], "each once, newest first"
    assert [j["created"] for j in every] == sorted((j["created"] for j in every), reverse=True)
    dead = walk(base, "status=dead&task=fail")
    assert {job["id"] for job in dead} == set(ids[::3])
    assert walk(base, "status=dead&task=uppercase") == []
    assert [job["id"] for job in walk(base, "q=browse%2042")] == [ids[42]]
    assert [job["id"] for job in walk(base, f"q={ids[7]}")] == [ids[7]]
    since = every[9]["created"]
    assert [job["id"] for job in walk(base, f"q=browse&since={since!r}")] == ids[::-1][:10]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "status=lost", "since=-1", "cursor=nonsense", "x=1"]
)
def test_bad_browse_parameters_are_422(base: str, query: str) -> None:
    status, body = call(base, f"/api/jobs?{query}")
    assert (status, body["error"]) == (422, "invalid_request")


def test_expired_jobs_leave_the_index(base: str, stack: Stack) -> None:
    kept, gone = submit(base, "uppercase", "kept"), submit(base, "uppercase", "gone")
    wait_until(lambda: len(walk(base, "status=succeeded")) == 2, 10, "both done")
    client = sync_redis.Redis.from_url(stack.redis_url)
    keys = Keys("courier:")
    client.delete(keys.job(gone))
    assert [job["id"] for job in walk(base, "q=")] == [kept]
    assert client.zscore(keys.job_index, gone) is None
    client.close()


def test_task_counts_follow_every_change(base: str) -> None:
    for i in range(4):
        submit(base, "reverse", f"r{i}")
    submit(base, "fail", "f")
    slow = submit(base, "sleep", "s", seconds=5)
    wait_until(lambda: counts(base).get("sleep", {}).get("running") == 1, 10, "sleep running")
    assert call(base, f"/api/jobs/{slow}", "DELETE")[0] == 200
    wait_until(lambda: counts(base).get("fail", {}).get("dead") == 1, 10, "fail dead")
    by_task = counts(base)
    assert by_task["reverse"]["succeeded"] == 4
    assert by_task["reverse"]["mean_seconds"] >= 0
    assert (by_task["fail"]["failed"], by_task["fail"]["running"]) == (2, 0)
    assert (by_task["sleep"]["running"], by_task["sleep"]["cancelled"]) == (0, 1)


def counts(base: str) -> dict[str, dict[str, Any]]:
    return {c["task"]: c for c in call(base, "/api/queue")[1]["tasks"]}


def test_bulk_retry_and_discard_of_dead_letters(base: str) -> None:
    dead = [submit(base, "fail", f"d{i}") for i in range(6)]
    wait_until(lambda: len(call(base, "/api/dead")[1]) == 6, 20, "six dead letters")
    status, outcome = call(base, "/api/dead/retry", "POST", {"ids": [*dead[:2], "nope"]})
    assert status == 200
    assert (sorted(outcome["done"]), outcome["missing"]) == (sorted(dead[:2]), ["nope"])
    status, outcome = call(base, "/api/dead/discard", "POST", {"ids": dead[2:4]})
    assert sorted(outcome["done"]) == sorted(dead[2:4])
    assert call(base, f"/api/jobs/{dead[2]}")[0] == 404
    wait_until(lambda: len(call(base, "/api/dead")[1]) == 4, 20, "retried ones dead again")
    status, outcome = call(base, "/api/dead/discard", "POST", {"all": True})
    assert (status, len(outcome["done"])) == (200, 4)
    assert call(base, "/api/dead")[1] == []
    for body in ({}, {"ids": ["a"], "all": True}, {"ids": "a"}):
        assert call(base, "/api/dead/retry", "POST", body)[0] == 422


async def test_the_console_shows_jobs_submitted_anywhere_live(base: str) -> None:
    url = base.replace("http://", "ws://") + f"/ui/jobs/ws?session={new_session_id()}"
    async with connect(url) as console:
        await console.send(json.dumps({"task": "uppercase", "text": "from the page", "args": ""}))
        mine = await row_with(console, "from the page", "succeeded")
        assert "yours" in mine, "the page's own job is marked"
        await asyncio.to_thread(submit, base, "reverse", "from elsewhere")
        other = await row_with(console, "from elsewhere", "succeeded")
        assert "yours" not in other
        assert 'hx-swap-oob="afterbegin:#job-rows"' in await row_with(console, "elsewhere", "")


async def row_with(console: Any, text: str, status: str, within: float = 10) -> str:
    """The first fragment (received since the socket opened) showing `text` in `status`."""
    seen = getattr(console, "seen", [])
    console.seen = seen
    deadline = time.monotonic() + within
    while True:
        for html in seen:
            if text in html and re.search(f'status-label">{status}', html):
                return str(html)
        seen.append(await asyncio.wait_for(console.recv(), deadline - time.monotonic()))
