"""Members joining a room at once: joins a web process sends together share one call and one
view of the room, and a thousand members joining over two web processes all get in, see
everyone, and cost Redis little memory, with the web processes' pub/sub connections intact."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from backend.core.autopipeline import ScriptPipeline
from backend.core.keys import Keys
from backend.core.listener import ChannelListener
from backend.core.outcomes import NotRun
from backend.core.rejected import Rejected
from backend.core.rooms import Joined, Rooms
from backend.procs.redis_server import RedisServer
from backend.settings import Settings
from tests.conftest import Opener
from tests.processes import Stack
from tests.wsclient import Client, Event

MEMBERS = 1000
FULL_WITHIN = 30.0  # seconds; the bench measures how fast (docs/pubsub.md), this bounds it
ROOM_BYTES_MAX = 50_000_000


@pytest.fixture
async def rooms(redis: Redis, keys: Keys, settings: Settings) -> AsyncIterator[Rooms]:
    pipeline = ScriptPipeline(redis)
    yield Rooms(redis, keys, settings, pipeline)
    await pipeline.aclose()


@pytest.mark.cluster
async def test_joins_sent_together_share_one_view(rooms: Rooms) -> None:
    first = await rooms.join("class", "s0", "teacher")
    calls = [rooms.join("class", f"s{i}", f"pupil{i}") for i in range(1, 40)]
    calls += [
        rooms.join("class", "s40", "pupil1"),  # taken by s1, a moment before in the same call
        rooms.join("class", "s0", "teacher", (first.offset, first.view.epoch)),  # comes back
    ]
    replies = await asyncio.gather(*calls, return_exceptions=True)
    taken = replies[39]
    assert isinstance(taken, Rejected) and taken.code == "name_taken", taken
    joined = [reply for reply in replies if isinstance(reply, Joined)]
    assert len(joined) == 40
    view = joined[0].view
    assert all(reply.view is view for reply in joined), "one call, one view"
    assert sorted(view.names) == sorted(["teacher", *(f"pupil{i}" for i in range(1, 40))])
    assert view.offset == first.offset + 39
    back = joined[-1]
    assert back.recovered
    assert [e.count('"type":"joined"') for e in back.missed] == [1] * 39


@pytest.mark.cluster
async def test_a_chat_or_leave_right_after_a_join_comes_after_it(stack: Stack, ws: Opener) -> None:
    """The client sent the join first, so the chat and the leave find it in the room, even
    while its join waits for the room's subscription or for other joins to go out."""
    base = stack.web()
    for room in ("first", "second"):
        client = await ws(base)
        await client.send({"type": "join", "room": room, "name": "ann"})
        await client.send({"type": "chat", "room": room, "text": "hi", "ref": "c"})
        await client.send({"type": "leave", "room": room, "ref": "l"})
        mine = await client.until(lambda e: e["type"] in ("chat", "error"))
        assert mine["type"] == "chat" and mine["mine"] is True, mine
        left = await client.until(lambda e: e["type"] in ("left", "error") and "offset" in e)
        assert left["type"] == "left" and left["names"] == ["ann"], left


async def test_a_subscription_redis_does_not_confirm_in_time_is_not_run(redis: Redis) -> None:
    """A join waits for its room's subscription before it joins; if Redis cannot confirm it in
    time the join is not made, and the member hears `unavailable`, not an internal error."""
    listener = ChannelListener(redis, on_message=lambda channel, data: None)
    running = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.subscribed.wait(), 5)
        await redis.execute_command("CLIENT", "PAUSE", 1000, "ALL")
        with pytest.raises(NotRun):
            await listener.subscribe("slow", within=0.2)
        await listener.subscribe("slow", within=5)  # confirmed once Redis answers again
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def _open(base_urls: list[str], count: int) -> list[Client]:
    clients: list[Client] = []
    for start in range(0, count, 100):  # a burst of handshakes, but not all at once
        batch = range(start, min(start + 100, count))
        clients += await asyncio.gather(
            *(Client.open(base_urls[i % len(base_urls)]) for i in batch)
        )
    return clients


async def _join_and_fill(client: Client, name: str, everyone: set[str]) -> None:
    """Joins, is answered (history, then the member list), then hears of the rest."""
    await client.send({"type": "join", "room": "storm", "name": name})
    kinds: list[str] = []
    present: set[str] = set()
    while present != everyone:
        event: Event = await client.recv(FULL_WITHIN)
        assert event.get("room") == "storm", event
        kinds.append(event["type"])
        if event["type"] == "presence":
            present = set(event["members"])
        elif event["type"] == "joined":
            present.update(event["names"])
        else:
            assert event["type"] == "history", event
    assert kinds[:2] == ["history", "presence"], kinds[:5]


def _log_size(path: Path) -> int:
    return path.stat().st_size


def _log_since(path: Path, start: int) -> str:
    """What Redis logged since `start`: a client it cut off for its output buffer shows there."""
    with path.open() as log:
        log.seek(start)
        return log.read()


def _raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files; ulimit -n allows {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@pytest.mark.slow
async def test_a_thousand_members_joining_at_once(
    stack: Stack, redis: Redis, keys: Keys, redis_server: RedisServer
) -> None:
    """Every join answered and every member seeing all the others, within a bound far above
    what it takes (under a second on two CPUs); the room's keys far under 50 MB; Redis never
    cuts a web process's pub/sub connection, which it did when each join was copied into every
    member's session log (docs/pubsub.md, The join storm)."""
    _raise_open_files(2 * MEMBERS + 1000)  # the clients, and the web processes they start
    log_start = _log_size(redis_server.log_path)
    bases = [stack.web(), stack.web()]
    clients = await _open(bases, MEMBERS)
    names = [f"m{i}" for i in range(MEMBERS)]
    try:
        async with asyncio.timeout(FULL_WITHIN):
            await asyncio.gather(
                *(_join_and_fill(c, n, set(names)) for c, n in zip(clients, names, strict=True))
            )
        room = keys.room("storm")
        used = [await redis.memory_usage(key, samples=0) or 0 for key in room.all]
        assert sum(used) < ROOM_BYTES_MAX, dict(zip(room.all, used, strict=True))
        assert await redis.hlen(room.members) == MEMBERS
        for web in stack.roles:
            log = web.output()
            for trouble in ("pub/sub connection lost", "Traceback", "ERROR", "WARNING"):
                assert trouble not in log, f"{web.name}: {log[log.index(trouble) - 200 :]}"
        cut = _log_since(redis_server.log_path, log_start)
        assert "output buffer limits" not in cut, cut
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
