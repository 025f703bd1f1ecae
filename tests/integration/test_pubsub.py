"""Pub/sub mode with real subscriber processes: every listener gets it, nobody else ever will."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import Opener
from tests.processes import Stack, start_test_redis, wait_until

pytestmark = pytest.mark.cluster


def subscribers_up(base: str, count: int) -> bool:
    with urllib.request.urlopen(base + "/api/status", timeout=3) as response:
        status = json.load(response)
    return sum(s["state"] != "gone" for s in status["subscribers"]) == count


def subscribed(base: str) -> list[str]:
    """Ids of subscribers whose heartbeat says they are subscribed."""
    with urllib.request.urlopen(base + "/api/status", timeout=3) as response:
        return [s["id"] for s in json.load(response)["subscribers"] if s["state"] != "gone"]


@pytest.fixture
def two_subscribers(stack: Stack) -> str:
    base = stack.web()
    stack.subscriber()
    stack.subscriber()
    wait_until(lambda: subscribers_up(base, 2), 10, "two subscribers")
    return base


async def test_two_subscribers_two_results(two_subscribers: str, ws: Opener) -> None:
    client = await ws(two_subscribers)
    await client.send(
        {"type": "send", "mode": "pubsub", "topic": "demo", "text": "hi", "ref": "r2"}
    )
    accepted = await client.recv()
    assert accepted["type"] == "accepted"
    assert (accepted["ref"], accepted["mode"], accepted["receivers"]) == ("r2", "pubsub", 2)
    results = [await client.recv(), await client.recv()]
    assert {r["type"] for r in results} == {"result"}
    assert {r["result"] for r in results} == {"HI"}
    assert all(r["id"] == accepted["id"] and r["ref"] == "r2" for r in results)
    assert all(r["mode"] == "pubsub" for r in results)
    assert len({r["consumer"] for r in results}) == 2, "one result from each subscriber"
    assert await client.quiet(0.3) == []


async def test_topic_defaults_to_demo_and_tasks_apply(two_subscribers: str, ws: Opener) -> None:
    client = await ws(two_subscribers)
    await client.send({"type": "send", "mode": "pubsub", "text": "abc", "task": "reverse"})
    assert (await client.recv())["receivers"] == 2
    assert [(await client.recv())["result"] for _ in range(2)] == ["cba", "cba"]
    await client.send({"type": "send", "mode": "pubsub", "topic": "other", "text": "x"})
    assert (await client.recv())["receivers"] == 2, "subscribers listen to every topic"


async def test_failing_task_reports_one_failure_per_subscriber(
    two_subscribers: str, ws: Opener
) -> None:
    client = await ws(two_subscribers)
    await client.send({"type": "send", "mode": "pubsub", "text": "x", "task": "fail"})
    await client.recv()
    failures = [await client.recv(), await client.recv()]
    assert [(f["type"], f["final"], f["error"]) for f in failures] == [
        ("failed", True, "this task always fails")
    ] * 2


async def test_nobody_listening_means_lost(stack: Stack, ws: Opener) -> None:
    base = stack.web()
    client = await ws(base)
    await client.send({"type": "send", "mode": "pubsub", "text": "into the void", "ref": 1})
    accepted = await client.recv()
    assert (accepted["type"], accepted["receivers"]) == ("accepted", 0)
    stack.subscriber()
    wait_until(lambda: subscribers_up(base, 1), 10, "a subscriber")
    assert await client.quiet(0.5) == [], "a late subscriber never sees what was published before"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "send", "mode": "pubsub", "topic": "no spaces", "text": "x"}, "invalid_message"),
        ({"type": "send", "mode": "pubsub", "text": "x", "task": "nope"}, "unknown_task"),
        ({"type": "send", "mode": "pubsub", "text": 3}, "invalid_message"),
    ],
)
async def test_bad_pubsub_sends(
    stack: Stack, ws: Opener, frame: dict[str, object], code: str
) -> None:
    client = await ws(stack.web())
    await client.send(frame)
    error = await client.recv()
    assert (error["type"], error["code"]) == ("error", code)


@pytest.mark.slow
async def test_subscriber_resubscribes_after_redis_restarts(tmp_path: Path, ws: Opener) -> None:
    server = start_test_redis(tmp_path / "redis")
    stack = Stack(server.url, tmp_path, {"heartbeat_interval": "0.2", "heartbeat_timeout": "1"})
    try:
        base = stack.web()
        subscriber = stack.subscriber()
        wait_until(lambda: subscribers_up(base, 1), 10, "the subscriber")
        server.kill()
        server.start()
        client = await ws(base)

        async def receivers() -> int:
            await client.send({"type": "send", "mode": "pubsub", "text": "again"})
            while (event := await client.recv())["type"] != "accepted":
                pass
            return int(event["receivers"])

        for _ in range(200):
            if await receivers() == 1:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"never re-subscribed:\n{subscriber.output()}")
        wait_until(lambda: "pub/sub connection restored" in subscriber.output(), 5, "the log")
    finally:
        stack.stop()
        server.stop()
