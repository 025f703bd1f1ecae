"""Pausing consumers over the control channel, with real worker and subscriber processes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Opener
from tests.processes import Stack, http_json, wait_until


def call(base: str, path: str, method: str = "GET", token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http_json(base + path, method, headers=headers)


def states(base: str, kind: str) -> list[str]:
    return [c["state"] for c in call(base, "/api/consumers")[1][kind] if c["state"] != "gone"]


async def test_a_paused_worker_leaves_jobs_waiting(stack: Stack, ws: Opener) -> None:
    base = stack.web()
    worker = stack.worker()
    wait_until(lambda: states(base, "workers") == ["idle"], 10, "the worker")
    worker_id = call(base, "/api/consumers")[1]["workers"][0]["id"]
    assert call(base, f"/api/consumers/{worker_id}/pause", "POST") == (
        200,
        {"consumer": worker_id, "paused": True},
    )
    wait_until(lambda: states(base, "workers") == ["paused"], 10, "the worker to pause")
    client = await ws(base)
    jobs = [await client.job(f"wait {i}") for i in range(5)]
    assert call(base, "/api/queue")[1]["depth"] == 5
    assert await client.quiet(0.5) == []
    call(base, f"/api/consumers/{worker_id}/resume", "POST")
    for job in jobs:
        assert (await client.result_of(job))["type"] == "result"
    assert worker.is_running


async def test_a_paused_subscriber_hears_nothing(stack: Stack, ws: Opener) -> None:
    base = stack.web()
    stack.subscriber()
    wait_until(lambda: states(base, "subscribers") == ["idle"], 10, "the subscriber")
    client = await ws(base)

    async def receivers() -> int:
        await client.send({"type": "send", "mode": "pubsub", "text": "anyone?"})
        while (event := await client.recv())["type"] != "accepted":
            pass
        return int(event["receivers"])

    assert await receivers() == 1
    call(base, "/api/consumers/*/pause", "POST")
    wait_until(lambda: states(base, "subscribers") == ["paused"], 10, "the subscriber to pause")
    assert await receivers() == 0, "paused means unsubscribed: the message is lost"
    call(base, "/api/consumers/*/resume", "POST")
    wait_until(lambda: states(base, "subscribers") == ["idle"], 10, "the subscriber to resume")
    for _ in range(50):
        if await receivers() == 1:
            break
    else:
        raise AssertionError("never subscribed again")


async def test_pause_all_reaches_consumers_that_start_later(stack: Stack) -> None:
    base = stack.web()
    call(base, "/api/consumers/*/pause", "POST")
    stack.worker()
    stack.subscriber()
    wait_until(lambda: states(base, "workers") == ["paused"], 10, "a paused worker")
    wait_until(lambda: states(base, "subscribers") == ["paused"], 10, "a paused subscriber")


def test_controls_need_the_admin_token_when_set(stack: Stack) -> None:
    stack.settings.update(admin_token="s3cret-token")
    base = stack.web()
    status, error = call(base, "/api/consumers/*/pause", "POST")
    assert (status, error["error"]) == (401, "unauthorized")
    assert call(base, "/api/consumers/*/pause", "POST", token="wrong-token")[0] == 401
    assert call(base, "/api/consumers/*/pause", "POST", token="s3cret-token")[0] == 200
    assert call(base, "/api/consumers")[1]["controls_open"] is False


@pytest.mark.parametrize("action", ["stop", "PAUSE"])
def test_unknown_actions_are_422(stack: Stack, action: str) -> None:
    base = stack.web()
    assert call(base, f"/api/consumers/*/{action}", "POST")[0] == 422
