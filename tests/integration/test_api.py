"""The REST API against a real web process and worker."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from tests.processes import Stack, http_json, wait_until


def call(base: str, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    return http_json(base + path, method, body)


@pytest.fixture
def base(stack: Stack) -> str:
    stack.settings.update(max_text_bytes="100", tasks="tests.sample.custom_tasks")
    url = stack.web()
    stack.worker()
    return url


def test_submit_and_read_a_job(base: str) -> None:
    status, created = call(base, "/api/jobs", "POST", {"task": "reverse", "text": "abc"})
    assert status == 202
    assert created["status"] == "queued"
    job_id = created["id"]
    wait_until(lambda: call(base, f"/api/jobs/{job_id}")[1]["status"] == "succeeded", 10, "done")
    _, job = call(base, f"/api/jobs/{job_id}")
    assert (job["result"], job["attempts"], job["task"]) == ("cba", 1, "reverse")
    assert job["worker"].startswith("worker:")
    assert job["created"] <= job["started"] <= job["finished"]


def test_user_tasks_from_courier_tasks_module(base: str) -> None:
    _, shout = call(
        base, "/api/jobs", "POST", {"task": "shout", "text": "hi", "args": {"times": 3}}
    )
    _, title = call(base, "/api/jobs", "POST", {"task": "title", "text": "hello world"})
    wait_until(
        lambda: call(base, f"/api/jobs/{title['id']}")[1]["status"] == "succeeded", 10, "title"
    )
    assert call(base, f"/api/jobs/{shout['id']}")[1]["result"] == "HI!!!"
    assert call(base, f"/api/jobs/{title['id']}")[1]["result"] == "Hello World"
    names = [t["name"] for t in call(base, "/api/tasks")[1]]
    assert {"shout", "title", "uppercase", "fib"} <= set(names)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"task": "nope", "text": "x"}, 422, "unknown_task"),
        ({"task": "fib", "args": {"n": "big"}}, 422, "invalid_args"),
        ({"text": "x" * 101}, 422, "text_too_long"),
        ({"text": 5}, 422, "invalid_request"),
        ({"args": []}, 422, "invalid_request"),
    ],
)
def test_bad_submissions_are_clear_errors(base: str, body: Any, status: int, code: str) -> None:
    got_status, error = call(base, "/api/jobs", "POST", body)
    assert (got_status, error["error"]) == (status, code)
    assert error["detail"]


def test_unknown_job_is_404(base: str) -> None:
    assert call(base, "/api/jobs/missing") == (
        404,
        {"error": "not_found", "detail": "no job 'missing' (unknown, or past its retention)"},
    )
    assert call(base, "/api/jobs/missing", "DELETE")[0] == 404
    assert call(base, "/api/dead/missing/retry", "POST")[0] == 404


def test_cancel_running_then_finished_job(base: str) -> None:
    _, created = call(base, "/api/jobs", "POST", {"task": "sleep", "args": {"seconds": 5}})
    job_id = created["id"]
    wait_until(lambda: call(base, f"/api/jobs/{job_id}")[1]["status"] == "running", 10, "running")
    assert call(base, f"/api/jobs/{job_id}", "DELETE") == (
        200,
        {"id": job_id, "status": "cancelled"},
    )
    status, error = call(base, f"/api/jobs/{job_id}", "DELETE")
    assert (status, error["error"]) == (409, "already_finished")
    _, queue = call(base, "/api/queue")
    wait_until(lambda: call(base, "/api/queue")[1]["in_flight"] == 0, 5, "the entry acknowledged")
    assert queue["cancelled"] == 1


def test_queue_report_shape(base: str) -> None:
    wait_until(lambda: call(base, "/api/queue")[1]["workers"], 10, "the worker to beat")
    _, queue = call(base, "/api/queue")
    assert set(queue) >= {"depth", "in_flight", "dead", "delayed", "workers", "succeeded"}
    assert queue["workers"][0]["state"] in ("idle", "busy")


def test_openapi_documents_the_api(base: str) -> None:
    _, spec = call(base, "/openapi.json")
    assert {"/api/jobs", "/api/jobs/{job_id}", "/api/queue", "/api/dead/{job_id}/retry"} <= set(
        spec["paths"]
    )


@pytest.mark.parametrize("path", ["/ui/dead/some-job/discard", "/ui/consumers/*/pause"])
@pytest.mark.parametrize("origin", [None, "http://evil.example"])
def test_page_posts_refuse_cross_site_requests(base: str, path: str, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {}
    request = urllib.request.Request(base + path, data=b"", method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    refused.value.close()
    assert refused.value.code == 403
    paused = [c for c in call(base, "/api/consumers")[1]["workers"] if c["state"] == "paused"]
    assert paused == [], "nothing was paused"


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "many"])
def test_a_dead_letter_limit_out_of_range_is_refused(base: str, limit: str) -> None:
    status, body = call(base, f"/api/dead?limit={limit}")
    assert status == 422
    assert body["error"] == "invalid_request"
    assert "limit" in body["detail"]


def test_pausing_a_consumer_nobody_has_seen_is_404(base: str) -> None:
    status, body = call(base, "/api/consumers/worker:nowhere:1/pause", "POST")
    assert (status, body["error"]) == (404, "not_found")
    assert "worker:nowhere:1" in body["detail"]
    workers = wait_until(lambda: call(base, "/api/consumers")[1]["workers"], 10, "a worker")
    assert isinstance(workers, list)
    assert call(base, f"/api/consumers/{workers[0]['id']}/resume", "POST")[0] == 200
    assert call(base, "/api/consumers/*/resume", "POST")[0] == 200
