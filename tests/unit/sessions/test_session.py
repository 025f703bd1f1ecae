"""ClientSession over an in-memory transport: the welcome, numbered replies, errors, the rate
limit and resume, against the real redis-server (docs/protocol.md is the contract)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from redis.asyncio import Redis

from backend.core.events import SessionEvents
from backend.core.keys import Keys
from backend.sessions import ratelimit
from backend.sessions.services import Services
from backend.settings import Settings
from tests.unit.sessions.conftest import Connect, StartServices
from tests.unit.sessions.memory import ShiftedClock


async def test_welcome_describes_a_new_session(services: Services, connect: Connect) -> None:
    client = connect(services)
    assert await client.next() == {
        "type": "welcome",
        "seq": 0,
        "session": client.id,
        "instance": services.hub.instance,
        "protocol": 1,
        "resumed": 0,
    }


async def test_replies_are_numbered_one_by_one(services: Services, connect: Connect) -> None:
    client = connect(services)
    await client.next()
    messages: list[dict[str, Any] | str] = [
        {"type": "ping", "ref": "r1"},
        {"type": "send", "text": "a", "ref": "r2"},
        "{not json",
        {"type": "send", "mode": "pubsub", "text": "b", "ref": "r4"},
        {"type": "ping", "ref": "r5"},
    ]
    replies = [await client.ask(message) for message in messages]
    assert [(r["seq"], r["type"], r["ref"]) for r in replies] == [
        (1, "pong", "r1"),
        (2, "accepted", "r2"),
        (3, "error", None),
        (4, "accepted", "r4"),
        (5, "pong", "r5"),
    ]


async def test_pipelined_messages_are_answered_in_order(
    services: Services, connect: Connect
) -> None:
    client = connect(services)
    await client.next()
    await client.ask({"type": "ping"})  # every script this test uses is now loaded
    await client.ask({"type": "send", "text": "warm-up"})
    messages: list[dict[str, Any] | str] = [
        {"type": "send", "text": "a"},
        "{not json",
        {"type": "ping"},
    ]
    for message in messages:
        client.send(message)
    replies = [await client.next() for _ in range(3)]
    assert [(r["seq"], r["type"]) for r in replies] == [(3, "accepted"), (4, "error"), (5, "pong")]


async def test_pipelined_messages_are_answered_in_order_with_a_cold_script_cache(
    services: Services, connect: Connect, redis: Redis
) -> None:
    client = connect(services)
    await client.next()
    await redis.script_flush()  # as after a Redis restart
    services.hub.events.pipeline.cached.clear()  # as after the connection error that brings
    client.send({"type": "send", "text": "a", "ref": "r2"})
    client.send({"type": "ping", "ref": "p"})
    client.send("{not json")
    replies = [await client.next() for _ in range(3)]
    assert [r["type"] for r in replies] == ["accepted", "pong", "error"]
    assert [r["seq"] for r in replies] == [1, 2, 3]


@pytest.mark.parametrize("ref", ["p1", 7])
async def test_ping_gets_a_pong_echoing_the_ref(
    services: Services, connect: Connect, ref: object
) -> None:
    client = connect(services)
    await client.next()
    assert await client.ask({"type": "ping", "ref": ref}) == {"seq": 1, "type": "pong", "ref": ref}


async def test_queue_send_is_accepted_and_stored(
    services: Services, connect: Connect, redis: Redis, keys: Keys
) -> None:
    client = connect(services)
    await client.next()
    accepted = await client.ask({"type": "send", "task": "reverse", "text": "abc", "ref": "q1"})
    job_id = accepted["id"]
    assert accepted == {"seq": 1, "type": "accepted", "ref": "q1", "id": job_id, "mode": "queue"}
    job = await redis.hgetall(keys.job(job_id))
    assert (job["status"], job["task"], job["text"]) == ("queued", "reverse", "abc")
    assert (job["session"], job["ref"]) == (client.id, '"q1"')
    assert await redis.zrange(keys.ready, 0, -1) == [job_id], "runnable, for any worker"


async def test_pubsub_send_with_no_subscriber_reaches_nobody(
    services: Services, connect: Connect
) -> None:
    client = connect(services)
    await client.next()
    accepted = await client.ask({"type": "send", "mode": "pubsub", "text": "x", "ref": "b1"})
    assert accepted == {
        "seq": 1,
        "type": "accepted",
        "ref": "b1",
        "id": accepted["id"],
        "mode": "pubsub",
        "receivers": 0,
    }
    assert (await services.publisher.stats()).lost == 1


@pytest.mark.parametrize(
    ("frame", "code", "ref"),
    [
        ("{not json", "invalid_json", None),
        ({"type": "dance", "ref": "e1"}, "unknown_type", "e1"),
        ({"type": "send", "text": "x", "task": "nope", "ref": "e2"}, "unknown_task", "e2"),
        ({"type": "send", "text": "123456789", "ref": 3}, "text_too_long", 3),
        (
            {"type": "send", "task": "sleep", "args": {"seconds": "long"}, "text": ""},
            "invalid_args",
            None,
        ),
    ],
    ids=["invalid_json", "unknown_type", "unknown_task", "text_too_long", "invalid_args"],
)
async def test_a_bad_message_gets_an_error_and_the_session_goes_on(
    start_services: StartServices, connect: Connect, frame: Any, code: str, ref: object
) -> None:
    client = connect(await start_services(max_text_bytes=8))
    await client.next()
    error = await client.ask(frame)
    assert error == {"seq": 1, "type": "error", "ref": ref, "code": code, "detail": error["detail"]}
    assert error["detail"]
    assert await client.ask({"type": "ping", "ref": "after"}) == {
        "seq": 2,
        "type": "pong",
        "ref": "after",
    }


async def test_rate_limit_refuses_the_excess_then_serves_again(
    start_services: StartServices, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ShiftedClock()
    monkeypatch.setattr(ratelimit, "time", clock)
    client = connect(await start_services(rate_limit=3))
    await client.next()
    for n in range(4):
        client.send({"type": "ping", "ref": n})
    replies = [await client.next() for _ in range(4)]
    assert [(r["type"], r["ref"]) for r in replies] == [
        ("pong", 0),
        ("pong", 1),
        ("pong", 2),
        ("error", 3),
    ]
    assert replies[3]["code"] == "rate_limited"
    assert re.fullmatch(r"more than 3 messages/s; retry in 0\.\d\ds", replies[3]["detail"])
    clock.shift += 1.0  # a second later the bucket holds 3 tokens again
    assert (await client.ask({"type": "ping", "ref": 4}))["type"] == "pong"


async def test_resume_replays_exactly_what_was_missed(
    services: Services, connect: Connect, redis: Redis, keys: Keys, settings: Settings
) -> None:
    first = connect(services)
    await first.next()
    await first.ask({"type": "send", "text": "a"})
    seen = (await first.ask({"type": "ping"}))["seq"]
    await first.hang_up()
    assert not await redis.exists(keys.session(first.id).route), "still routed after hang-up"
    worker_side = SessionEvents(redis, keys, settings)
    for n in (1, 2):
        await worker_side.emit(first.id, {"type": "note", "n": n})

    again = connect(services, first.id, after=seen)
    welcome = await again.next()
    assert (welcome["seq"], welcome["resumed"]) == (seen, 2)
    assert [await again.next(), await again.next()] == [
        {"seq": seen + 1, "type": "note", "n": 1},
        {"seq": seen + 2, "type": "note", "n": 2},
    ]
    pong = await again.ask({"type": "ping", "ref": "p"})
    assert pong == {"seq": seen + 3, "type": "pong", "ref": "p"}
    assert len(again.events) == 4, f"something came twice: {again.events}"


async def test_resume_replays_every_reply_pongs_and_errors_too(
    services: Services, connect: Connect
) -> None:
    """A client that missed replies while reconnecting gets each of them on resume, once."""
    first = connect(services)
    await first.next()
    accepted = await first.ask({"type": "send", "text": "a"})
    pong = await first.ask({"type": "ping"})
    error = await first.ask("{not json")
    await first.hang_up()

    again = connect(services, first.id, after=0)
    welcome = await again.next()
    assert (welcome["seq"], welcome["resumed"]) == (0, 3)
    assert [await again.next() for _ in range(3)] == [accepted, pong, error]
    assert (await again.ask({"type": "ping"}))["seq"] == 4
