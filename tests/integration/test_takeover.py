"""A worker killed under a backlog: its jobs are taken over within the visibility timeout by a
survivor that is busy with the backlog, because they are older than anything waiting."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis

from backend.core.keys import Keys
from backend.core.queue import GROUP
from backend.procs.redis_server import RedisServer
from backend.settings import Settings
from tests.conftest import Opener
from tests.processes import Stack, http_json, start_test_redis, wait_until
from tests.wsclient import Client, Event

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

VISIBILITY = 3.0
JOBS = 80
RESTART_VISIBILITY = 6.0  # a worker that met a Redis error claims nothing for a third of it
NAP = 0.5  # each job's run time: the survivor's 4 slots free up every moment, never all at once


async def record(client: Client, ids: set[str], timeout: float) -> list[tuple[float, Event]]:
    """Every event until each job has its result, with the monotonic time it arrived."""
    stamped: list[tuple[float, Event]] = []
    finished: set[str] = set()
    deadline = time.monotonic() + timeout
    while finished < ids:
        event = await client.recv(max(0.1, deadline - time.monotonic()))
        stamped.append((time.monotonic(), event))
        if event["type"] == "result":
            finished.add(event["id"])
    return stamped


def consumer_of(worker_pid: int) -> str:
    return f"worker:{socket.gethostname()}:{worker_pid}"


async def test_a_dead_workers_jobs_are_taken_over_before_the_backlog(
    stack: Stack, ws: Opener
) -> None:
    stack.settings.update(visibility_timeout=str(VISIBILITY), worker_concurrency="4")
    base = stack.web()
    client = await ws(base)
    ids = [await client.job(f"nap {i}", task="sleep", args={"seconds": NAP}) for i in range(JOBS)]
    victim = stack.worker()
    stack.worker()  # the survivor
    mine = consumer_of(victim.pid)
    await client.until(lambda e: e["type"] == "started" and e["consumer"] == mine, 20)
    await client.until(lambda e: e["type"] == "started" and e["consumer"] != mine, 20)
    victim.kill()  # SIGKILL mid-job: its entries stay pending, nobody keeps them alive
    killed = time.monotonic()
    events = [(killed, e) for e in client.events] + await record(client, set(ids), 60)

    starts: dict[str, list[tuple[float, Event]]] = {job: [] for job in ids}
    for at, event in events:
        if event["type"] == "started":
            starts[event["id"]].append((at, event))
    results = {job: client.of(job, "result") for job in ids}
    assert all(len(r) == 1 for r in results.values()), "one result per job, none lost"
    taken = [job for job in ids if results[job][0]["consumer"] != mine and len(starts[job]) > 1]
    assert taken, "the victim held jobs when it was killed"
    assert all(len(starts[job]) == 2 for job in taken), "a taken-over job runs at most twice"
    assert all(len(starts[job]) == 1 for job in ids if job not in taken), "the rest once"
    assert all(starts[job][0][1]["consumer"] == mine for job in taken)
    rerun_at = [starts[job][1][0] - killed for job in taken]
    firsts = [at - killed for at, e in events if e["type"] == "started" and e["attempt"] == 1]
    waiting = sum(at > max(rerun_at) for at in firsts)
    print(f"taken over: {len(taken)} jobs, {max(rerun_at):.2f} s after the kill, {waiting} waited")
    assert max(rerun_at) < 2 * VISIBILITY, "taken over within about the visibility timeout"
    assert waiting > 0, "taken over while a backlog waited, not once it had drained"
    assert [e["attempt"] for job in taken for _, e in starts[job]] == [1, 2] * len(taken)
    queue = await asyncio.to_thread(queue_report, base)
    assert (queue["succeeded"], queue["in_flight"], queue["depth"]) == (JOBS, 0, 0)
    assert queue["taken_over"] == len(taken), "each re-run is counted"


def queue_report(base: str) -> dict[str, Any]:
    status, body = http_json(base + "/api/queue")
    assert status == 200, body
    return dict(body)


async def test_a_settle_that_fails_across_a_redis_restart_is_retried_not_the_job(
    tmp_path: Path, ws: Opener
) -> None:
    """The job ends while Redis is away for longer than the visibility timeout, so once it is
    back every pending entry looks abandoned: the job's worker stores the outcome then, and the
    idle worker beside it does not take the job over meanwhile."""
    server = start_test_redis(tmp_path / "redis", persistent=True)
    settings = {"visibility_timeout": str(RESTART_VISIBILITY), "worker_concurrency": "2"}
    stack = Stack(server.url, tmp_path, {"heartbeat_interval": "0.2", **settings})
    try:
        await settle_across_a_restart(server, stack, ws)
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        server.stop()


async def settle_across_a_restart(server: RedisServer, stack: Stack, ws: Opener) -> None:
    base = stack.web()
    stack.worker()
    stack.worker()  # one runs the job, the other idles, free to take over what looks abandoned
    wait_until(lambda: len(queue_report(base)["workers"]) == 2, 20, "both workers")
    client = await ws(base)
    job = await client.job("", task="sleep", args={"seconds": 1.0})
    await client.until(lambda e: e["type"] == "started" and e["id"] == job)
    server.stop()  # SIGTERM: the append-only file is written
    await asyncio.sleep(RESTART_VISIBILITY + 0.5)  # the job ends, its settle fails, is retried
    server.start()
    redis = sync_redis.Redis.from_url(server.url, decode_responses=True)
    keys = Keys(Settings().key_prefix)
    try:
        wait_until(lambda: redis.hget(keys.job(job), "status") == "succeeded", 20, "the settle")
        await asyncio.sleep(RESTART_VISIBILITY / 2)  # time for a wrong take-over to show
        assert redis.hmget(keys.job(job), "runs", "result") == ["1", '"slept 1s"'], "run once"
        assert redis.hget(keys.stats, "taken_over") is None
        assert redis.xpending(keys.stream, GROUP)["pending"] == 0
    finally:
        redis.close()
    # The live socket hears the end too, whichever way it comes (the result's own publish, the
    # catch-up after the web's pub/sub reconnect, or the recovery of a late end).
    assert (await client.result_of(job, 20))["result"] == "slept 1s"
