"""Every frame gets exactly one reply, and `unavailable` is true, while Redis restarts under load
and while the client itself reconnects."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from backend.procs.redis_server import RedisServer
from tests.conftest import Opener
from tests.processes import Stack, start_test_redis
from tests.wsclient import Client, Event

FRAMES = 300
REPLIES = ("accepted", "error")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_test_redis(tmp_path / "redis", persistent=True)
    yield server
    server.stop()


@pytest.fixture
def own_stack(own_redis: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(own_redis.url, tmp_path, {"heartbeat_interval": "0.2"})
    yield stack
    stack.stop()


def replies_by_ref(events: list[Event]) -> dict[str, list[Event]]:
    replies: dict[str, list[Event]] = {}
    for event in events:
        if event["type"] in REPLIES and event.get("ref") is not None:
            replies.setdefault(str(event["ref"]), []).append(event)
    return replies


async def send_steadily(client: Client, refs: list[str], pause: float) -> None:
    for ref in refs:
        await client.send({"type": "send", "text": ref, "ref": ref})
        await asyncio.sleep(pause)


async def all_replies(client: Client, refs: list[str], timeout: float) -> dict[str, list[Event]]:
    wanted = set(refs)
    await client.until(lambda _: wanted <= replies_by_ref(client.events).keys(), timeout)
    await client.quiet(0.5)  # a second reply to anything would come now
    return replies_by_ref(client.events)


def stored_jobs(server: RedisServer) -> set[str]:
    with redis.Redis(port=server.port, decode_responses=True) as client:
        return {key.rsplit(":", 1)[1] for key in client.scan_iter("courier:*job:*")}


@pytest.mark.slow
async def test_every_frame_one_true_reply_through_a_redis_restart(
    own_redis: RedisServer, own_stack: Stack, ws: Opener
) -> None:
    base = own_stack.web()
    client = await ws(base)
    refs = [f"r{i}" for i in range(FRAMES)]
    sending = asyncio.create_task(send_steadily(client, refs, 0.01))
    await asyncio.sleep(FRAMES * 0.01 / 3)
    await asyncio.to_thread(own_redis.stop)  # SIGTERM mid-load
    await asyncio.sleep(1.0)
    await asyncio.to_thread(own_redis.start)
    await sending
    replies = await all_replies(client, refs, 60)

    assert all(len(replies[ref]) == 1 for ref in refs), {
        ref: got for ref, got in replies.items() if len(got) != 1
    }
    kinds = Counter(
        got[0]["type"] if got[0]["type"] == "accepted" else got[0]["code"]
        for got in replies.values()
    )
    assert set(kinds) <= {"accepted", "unavailable"}, kinds
    assert kinds["unavailable"] > 0, "the restart did not land mid-load"
    accepted = {got[0]["id"] for got in replies.values() if got[0]["type"] == "accepted"}
    # `unavailable` is true: nothing but the accepted jobs was stored.
    assert stored_jobs(own_redis) == accepted


@pytest.mark.slow
async def test_replies_missed_while_reconnecting_come_on_resume(
    own_redis: RedisServer, own_stack: Stack, ws: Opener
) -> None:
    base = own_stack.web()
    client = await ws(base)
    refs = [f"m{i}" for i in range(40)]
    for ref in refs:
        await client.send({"type": "send", "text": ref, "ref": ref})
    await client.send({"type": "ping", "ref": "p"})
    await client.send("{not json")
    seen = client.last_seq
    await client.close()

    again = await ws(base, f"session={client.session}&after={seen}")

    def answered() -> bool:
        events = client.events + again.events
        kinds = [e["type"] for e in events if e["type"] in ("pong", "error")]
        return replies_by_ref(events).keys() >= set(refs) and kinds == ["pong", "error"]

    if not answered():
        await again.until(lambda _: answered(), 20)
    await again.quiet(0.5)
    replies = replies_by_ref(client.events + again.events)
    assert all(len(replies[ref]) == 1 for ref in refs), replies
    rest = [e for e in client.events + again.events if e["type"] in ("pong", "error")]
    assert [e["type"] for e in rest] == ["pong", "error"], json.dumps(rest)
