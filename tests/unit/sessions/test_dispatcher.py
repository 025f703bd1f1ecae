"""What the dispatcher does with each kind of message, seen from the client: cancel, chat rooms,
and a queued job's result (from an in-process burst worker, not a worker process)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from backend.core.keys import Keys
from backend.procs.worker import Worker
from backend.sessions.services import Services
from backend.settings import Settings
from tests.unit.sessions.conftest import Connect


async def test_cancel_a_queued_job_then_again(
    services: Services, connect: Connect, redis: Redis, keys: Keys
) -> None:
    client = connect(services)
    await client.next()
    job_id = (await client.ask({"type": "send", "text": "a"}))["id"]
    cancelled = await client.ask({"type": "cancel", "id": job_id, "ref": "c1"})
    assert cancelled == {"seq": 2, "type": "cancelled", "id": job_id}
    assert await redis.hget(keys.job(job_id), "status") == "cancelled"
    again = await client.ask({"type": "cancel", "id": job_id, "ref": "c2"})
    assert (again["type"], again["code"], again["ref"]) == ("error", "already_finished", "c2")
    assert "cancelled" in again["detail"]


async def test_cancel_reaches_only_this_sessions_jobs(
    services: Services, connect: Connect, redis: Redis, keys: Keys
) -> None:
    owner, other = connect(services), connect(services)
    await owner.next()
    await other.next()
    job_id = (await owner.ask({"type": "send", "text": "a"}))["id"]
    for target in (job_id, "no-such-job"):
        error = await other.ask({"type": "cancel", "id": target, "ref": target})
        assert (error["type"], error["code"], error["ref"]) == ("error", "not_found", target)
    assert await redis.hget(keys.job(job_id), "status") == "queued"
    assert [e["type"] for e in owner.events] == ["welcome", "accepted"]


async def test_chat_room_join_chat_leave(services: Services, connect: Connect) -> None:
    client = connect(services)
    await client.next()
    client.send({"type": "join", "room": "lobby", "name": "alice"})
    history = await client.next()
    room = {"room": "lobby", "offset": 1, "epoch": history["epoch"]}
    assert history == {**room, "type": "history", "messages": []}
    presence = {**room, "type": "presence", "members": ["alice"], "recovered": False}
    assert await client.next() == presence
    chat = await client.ask({"type": "chat", "room": "lobby", "text": "  hi  ", "ref": "m1"})
    assert (chat["type"], chat["text"], chat["name"], chat["offset"]) == ("chat", "hi", "alice", 2)
    assert (chat["mine"], chat["ref"]) == (True, "m1")
    assert "seq" not in chat, "room events are numbered by their room"
    left = await client.ask({"type": "leave", "room": "lobby"})
    assert left == {**room, "offset": 3, "type": "left", "names": ["alice"]}
    for message, code in [
        ({"type": "leave", "room": "lobby", "ref": "x"}, "not_in_room"),
        ({"type": "chat", "room": "lobby", "text": "hi", "ref": "x"}, "not_in_room"),
        ({"type": "chat", "room": "lobby", "text": "   ", "ref": "x"}, "invalid_message"),
    ]:
        error = await client.ask(message)
        assert (error["type"], error["code"], error["ref"]) == ("error", code, "x")


async def test_a_name_is_taken_once_per_room(services: Services, connect: Connect) -> None:
    alice, bob = connect(services), connect(services)
    await alice.next()
    await bob.next()
    alice.send({"type": "join", "room": "lobby", "name": "alice"})
    await alice.wait_for("presence")
    error = await bob.ask({"type": "join", "room": "lobby", "name": "alice", "ref": "j"})
    assert (error["type"], error["code"], error["ref"]) == ("error", "name_taken", "j")


async def test_a_queued_job_reports_back_to_its_session(
    services: Services, connect: Connect, settings: Settings
) -> None:
    client = connect(services)
    await client.next()
    accepted = await client.ask({"type": "send", "text": "hello", "ref": "r1"})
    await Worker(settings, burst=True).run(asyncio.Event())  # in-process; returns when idle
    started = await client.next()
    assert (started["seq"], started["type"], started["id"]) == (2, "started", accepted["id"])
    result = await client.next()
    assert result == {
        "seq": 3,
        "type": "result",
        "id": accepted["id"],
        "ref": "r1",
        "mode": "queue",
        "consumer": started["consumer"],
        "result": "HELLO",
    }
