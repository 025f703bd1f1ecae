"""Queue guarantees with real processes: routing, FIFO, at-least-once under kill -9, retries,
dead-letter, cancel, graceful stop, resume, and two web instances."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from tests.conftest import Opener
from tests.processes import Stack, http_json, wait_until
from tests.wsclient import Client

pytestmark = pytest.mark.cluster

FAST = {
    "visibility_timeout": "1",
    "retry_backoff": "0.05",
    "shutdown_grace": "0.3",
    "worker_concurrency": "4",
}


ADMIN = "queue-guarantees-admin"  # jobs sent over a socket are the admin's only, over REST


def api(base: str, path: str, method: str = "GET") -> tuple[int, Any]:
    return http_json(base + path, method, headers={"X-Admin-Token": ADMIN})


@pytest.fixture(autouse=True)
def admin(stack: Stack) -> None:
    stack.settings["admin_token"] = ADMIN


@pytest.fixture
def fast(stack: Stack) -> Stack:
    stack.settings.update(FAST)
    return stack


async def send_many(
    client: Client, count: int, task: str = "uppercase", **args: Any
) -> dict[str, str]:
    """Sends `count` jobs without waiting; returns {job id: text} once all are accepted."""
    texts = {f"{client.session[:6]}-{i}": f"msg {client.session[:6]} {i}" for i in range(count)}
    for ref, text in texts.items():
        await client.send({"type": "send", "text": text, "ref": ref, "task": task, "args": args})
    ids = {}
    for ref, text in texts.items():
        accepted = await client.until(lambda e, r=ref: e["type"] == "accepted" and e["ref"] == r)
        ids[accepted["id"]] = text
    return ids


async def results(
    client: Client, ids: dict[str, str], timeout: float = 30
) -> dict[str, list[dict[str, Any]]]:
    for job_id in ids:
        await client.result_of(job_id, timeout)
    return {job_id: client.of(job_id, "result") for job_id in ids}


async def test_no_cross_talk_between_4_connections_over_1000_jobs(fast: Stack, ws: Opener) -> None:
    base = fast.web()
    fast.worker()
    fast.worker()
    clients = [await ws(base) for _ in range(4)]
    sent = await asyncio.gather(*(send_many(c, 250) for c in clients))
    for client, ids in zip(clients, sent, strict=True):
        got = await results(client, ids)
        assert all(len(r) == 1 for r in got.values()), "exactly one result per job"
        assert {r[0]["result"] for r in got.values()} == {t.upper() for t in ids.values()}
        foreign = {e["id"] for e in client.events if "id" in e} - set(ids)
        assert not foreign, "events of other connections' jobs"


async def test_jobs_wait_when_nobody_consumes_and_run_in_fifo_order(
    stack: Stack, ws: Opener
) -> None:
    stack.settings.update(worker_concurrency="1")
    base = stack.web()
    client = await ws(base)
    ids = await send_many(client, 20)
    status, queue = api(base, "/api/queue")
    assert (status, queue["depth"], queue["in_flight"]) == (200, 20, 0)
    assert await client.quiet(0.3) == [], "nothing happens without a worker"

    stack.worker()
    await results(client, ids)
    finished = [e["id"] for e in client.events if e["type"] == "result"]
    assert finished == list(ids), "FIFO: results in the order sent"


@pytest.mark.slow
async def test_kill_9_of_a_worker_mid_load_loses_no_job(fast: Stack, ws: Opener) -> None:
    base = fast.web()
    victim = fast.worker()
    client = await ws(base)
    ids = await send_many(client, 40, task="sleep", seconds=0.3)
    await client.until(lambda e: e["type"] == "started")
    victim.kill()  # mid-job SIGKILL: no goodbye, its in-flight jobs stay pending in the stream
    rescuer = fast.worker()

    got = await results(client, ids, timeout=40)
    assert all(len(r) == 1 for r in got.values()), "each job exactly one result"
    attempts = [e["attempt"] for e in client.events if e["type"] == "started"]
    assert 2 in attempts, "the job the killed worker held was run again"
    assert {r[0]["consumer"] for r in got.values()} >= {f"worker:{_host()}:{rescuer.pid}"}
    _status, queue = api(base, "/api/queue")
    assert (queue["depth"], queue["in_flight"], queue["dead"]) == (0, 0, 0)
    assert queue["succeeded"] == 40


def _host() -> str:
    import socket

    return socket.gethostname()


async def test_failing_job_retries_with_backoff_then_dead_letters(fast: Stack, ws: Opener) -> None:
    base = fast.web()
    fast.worker()
    client = await ws(base)
    job = await client.job("doomed", task="fail", ref="f1")
    final = await client.result_of(job)
    failures = client.of(job, "failed")
    assert [(f["attempt"], f["final"]) for f in failures] == [(1, False), (2, False), (3, True)]
    assert [f["retry_in"] for f in failures[:2]] == [0.05, 0.1]
    assert final["error"] == "this task always fails"
    assert final["ref"] == "f1"
    assert [e["attempt"] for e in client.of(job, "started")] == [1, 2, 3]

    status, body = api(base, f"/api/jobs/{job}")
    assert (status, body["status"], body["attempts"]) == (200, "dead", 3)
    assert [e["attempt"] for e in body["errors"]] == [1, 2, 3]
    assert api(base, "/api/queue")[1]["dead"] == 1
    assert [j["id"] for j in api(base, "/api/dead")[1]] == [job]

    assert api(base, f"/api/dead/{job}/retry", "POST") == (200, {"id": job, "status": "queued"})
    await client.until(lambda e: e["type"] == "failed" and e["final"] and e is not final)
    assert api(base, f"/api/dead/{job}", "DELETE")[0] == 204
    assert api(base, f"/api/jobs/{job}")[0] == 404
    assert api(base, f"/api/dead/{job}/retry", "POST")[0] == 404


async def test_flaky_job_that_recovers_reports_one_result(fast: Stack, ws: Opener) -> None:
    base = fast.web()
    fast.worker()
    client = await ws(base)
    jobs = [await client.job(f"try {i}", task="flaky", args={"p": 0.5}) for i in range(12)]
    outcomes = [await client.result_of(j) for j in jobs]
    for job, outcome in zip(jobs, outcomes, strict=True):
        assert len(client.of(job, "result")) <= 1
        if outcome["type"] == "result":
            assert all(not f["final"] for f in client.of(job, "failed"))


async def test_cancel_a_queued_job_it_never_runs(stack: Stack, ws: Opener) -> None:
    base = stack.web()
    client = await ws(base)
    job = await client.job("never", ref="c1")
    await client.send({"type": "cancel", "id": job})
    assert (await client.until(lambda e: e["type"] == "cancelled"))["id"] == job
    stack.worker()
    after = await client.job("after")
    await client.result_of(after)
    assert client.of(job, "started") == []
    assert client.of(job, "result") == []
    assert api(base, f"/api/jobs/{job}")[1]["status"] == "cancelled"


async def test_cancel_a_running_job_reports_no_result(stack: Stack, ws: Opener) -> None:
    base = stack.web()
    stack.worker()
    client = await ws(base)
    job = await client.job("", task="sleep", args={"seconds": 3})
    await client.until(lambda e: e["type"] == "progress" and e["id"] == job)
    await client.send({"type": "cancel", "id": job})
    cancelled = await client.until(lambda e: e["type"] == "cancelled" and e["id"] == job)
    wait_until(lambda: api(base, "/api/queue")[1]["in_flight"] == 0, 2, "the worker to drop it")
    next_job = await client.job("next")
    assert (await client.result_of(next_job))["result"] == "NEXT"
    later = [e for e in client.events if e.get("id") == job and e["seq"] > cancelled["seq"]]
    assert later == [], "no progress or result after cancelled"
    await client.send({"type": "cancel", "id": job, "ref": "again"})
    error = await client.until(lambda e: e["type"] == "error")
    assert (error["code"], error["ref"]) == ("already_finished", "again")


async def test_other_sessions_cannot_cancel_my_job(stack: Stack, ws: Opener) -> None:
    base = stack.web()
    mine, theirs = await ws(base), await ws(base)
    job = await mine.job("mine")
    await theirs.send({"type": "cancel", "id": job})
    assert (await theirs.until(lambda e: e["type"] == "error"))["code"] == "not_found"
    assert api(base, f"/api/jobs/{job}")[1]["status"] == "queued"


async def test_sigterm_hands_back_an_unfinished_job(fast: Stack, ws: Opener) -> None:
    base = fast.web()
    first = fast.worker()
    client = await ws(base)
    job = await client.job("", task="sleep", args={"seconds": 5})
    await client.until(lambda e: e["type"] == "started")
    first.signal(signal.SIGTERM)
    assert first.process is not None
    assert first.process.wait(10) == 0
    second = fast.worker()
    await client.result_of(job, 15)
    starts = client.of(job, "started")
    assert [s["attempt"] for s in starts] == [1, 1], "a handed-back attempt does not count"
    assert starts[1]["consumer"].endswith(f":{second.pid}")
    assert "handed back job" in first.output()


async def test_sigterm_lets_a_short_job_finish(stack: Stack, ws: Opener) -> None:
    stack.settings.update(shutdown_grace="5")
    base = stack.web()
    worker = stack.worker()
    client = await ws(base)
    job = await client.job("", task="sleep", args={"seconds": 0.5})
    await client.until(lambda e: e["type"] == "started")
    worker.signal(signal.SIGTERM)
    result = await client.result_of(job)
    assert result["consumer"].endswith(f":{worker.pid}")
    assert worker.process is not None
    assert worker.process.wait(10) == 0


async def test_resume_after_disconnect_replays_missed_events(stack: Stack, ws: Opener) -> None:
    base = stack.web()
    stack.worker()
    client = await ws(base)
    job = await client.job("", task="sleep", args={"seconds": 0.3})
    await client.until(lambda e: e["type"] == "started" and e["id"] == job)  # a worker has it
    seen = client.last_seq
    await client.close()
    await asyncio.sleep(0.6)

    again = await ws(base, f"session={client.session}&after={seen}")
    assert again.welcome["seq"] == seen
    assert again.welcome["resumed"] >= 1, "events emitted while disconnected are replayed"
    result = await again.result_of(job)
    assert result["result"] == "slept 0.3s"
    assert [e["seq"] for e in again.events] == list(range(seen + 1, seen + 1 + len(again.events)))
    kinds = [e["type"] for e in client.events + again.events if e.get("id") == job]
    assert kinds == ["accepted", "started", *["progress"] * 10, "result"], "each once, in order"


async def test_resume_on_another_web_process_after_the_first_is_killed(
    stack: Stack, ws: Opener
) -> None:
    first = stack.web()
    second = stack.web()
    stack.worker()
    client = await ws(first)
    job = await client.job("", task="sleep", args={"seconds": 0.5})
    seen = client.last_seq
    stack.roles[0].kill()  # the web process holding the socket dies
    again = await ws(second, f"session={client.session}&after={seen}")
    assert (await again.result_of(job))["result"] == "slept 0.5s"


async def test_two_web_instances_route_results_to_their_senders(fast: Stack, ws: Opener) -> None:
    a = fast.web()
    b = fast.web()
    fast.worker()
    on_a = [await ws(a) for _ in range(2)]
    on_b = [await ws(b) for _ in range(2)]
    assert {c.welcome["instance"] for c in on_a} != {c.welcome["instance"] for c in on_b}
    everyone = on_a + on_b
    sent = await asyncio.gather(*(send_many(c, 100) for c in everyone))
    for client, ids in zip(everyone, sent, strict=True):
        got = await results(client, ids)
        assert all(len(r) == 1 for r in got.values())
        assert {e["id"] for e in client.events if "id" in e} == set(ids)


async def test_a_second_connection_with_the_same_session_takes_over(
    stack: Stack, ws: Opener
) -> None:
    base = stack.web()
    stack.worker()
    first = await ws(base)
    second = await ws(base, f"session={first.session}&after={first.last_seq}")
    job = await second.job("mine now")
    assert (await second.result_of(job))["result"] == "MINE NOW"
    wait_until(lambda: first.connection.close_code is not None, 5, "the old socket to close")
    assert first.connection.close_code == 4001
