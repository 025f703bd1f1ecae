"""The /ws JSON protocol against a real web process and a real worker."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from backend.procs.redis_server import RedisServer
from backend.sessions.protocol import new_session_id
from tests.conftest import Opener
from tests.processes import Stack


@pytest.fixture(scope="module")
def web(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One web process and one worker for the whole module, under a key prefix of its own."""
    settings = {"max_text_bytes": "1024", "rate_limit": "1000", "key_prefix": "protocol:"}
    stack = Stack(redis_server.url, tmp_path_factory.mktemp("protocol"), settings)
    base = stack.web()
    stack.worker()
    yield base
    stack.stop()


async def test_welcome_then_accepted_started_result(ws: Opener, web: str) -> None:
    client = await ws(web)
    assert client.welcome["protocol"] == 1
    assert client.welcome["seq"] == 0
    assert client.welcome["session"] and client.welcome["instance"]

    await client.send({"type": "send", "mode": "queue", "text": "hello", "ref": "r1"})
    accepted = await client.recv()
    assert accepted == {
        "seq": 1, "type": "accepted", "ref": "r1", "id": accepted["id"], "mode": "queue"
    }  # fmt: skip
    started = await client.recv()
    assert started["type"] == "started"
    assert (started["id"], started["attempt"]) == (accepted["id"], 1)
    assert started["consumer"].startswith("worker:")
    result = await client.recv()
    assert result["type"] == "result"
    assert result["id"] == accepted["id"]
    assert (result["ref"], result["mode"], result["result"]) == ("r1", "queue", "HELLO")
    assert result["consumer"] == started["consumer"]
    await client.close()


@pytest.mark.parametrize(
    ("task", "args", "text", "expected"),
    [
        ("uppercase", {}, "abc", "ABC"),
        ("reverse", {}, "abc", "cba"),
        ("wordcount", {}, "one two  three", 3),
        ("fib", {"n": 20}, "", 6765),
        ("flaky", {"p": 0}, "ok", "OK"),
        ("sleep", {"seconds": 0.05}, "", "slept 0.05s"),
    ],
)
async def test_built_in_tasks(
    ws: Opener, web: str, task: str, args: dict[str, object], text: str, expected: object
) -> None:
    client = await ws(web)
    job = await client.job(text, task=task, args=args)
    result = await client.result_of(job)
    assert result["type"] == "result"
    assert result["result"] == expected


async def test_sleep_reports_progress_every_tenth(ws: Opener, web: str) -> None:
    client = await ws(web)
    job = await client.job("", task="sleep", args={"seconds": 0.2})
    await client.result_of(job)
    progress = [e["progress"] for e in client.of(job, "progress")]
    assert progress == pytest.approx([i / 10 for i in range(1, 11)])


async def test_ping_pong_echoes_ref(ws: Opener, web: str) -> None:
    client = await ws(web)
    await client.send({"type": "ping", "ref": 7})
    assert (await client.recv())["type"] == "pong"
    assert client.events[-1]["ref"] == 7


BAD_INPUT = [
    ("{not json", "invalid_json", None),
    ("[1, 2]", "invalid_message", None),
    (json.dumps({"type": "shout", "ref": "a"}), "unknown_type", "a"),
    (json.dumps({"ref": "b"}), "unknown_type", "b"),
    (
        json.dumps({"type": "send", "mode": "carrier-pigeon", "text": "x", "ref": "c"}),
        "unknown_mode",
        "c",
    ),
    (json.dumps({"type": "send", "text": "x", "task": "nope", "ref": "d"}), "unknown_task", "d"),
    (json.dumps({"type": "send", "text": 42, "ref": "e"}), "invalid_message", "e"),
    (json.dumps({"type": "send", "text": "x", "args": [], "ref": "f"}), "invalid_message", "f"),
    (json.dumps({"type": "send", "ref": "g"}), "invalid_message", "g"),
    (json.dumps({"type": "send", "text": "x", "surprise": 1, "ref": "h"}), "invalid_message", "h"),
    (
        json.dumps({"type": "send", "text": "x", "task": "fib", "args": {"n": 99}, "ref": "i"}),
        "invalid_args",
        "i",
    ),
    (
        json.dumps({"type": "send", "text": "x", "task": "sleep", "args": {"secs": 1}, "ref": "j"}),
        "invalid_args",
        "j",
    ),
    (json.dumps({"type": "send", "text": "é" * 600, "ref": "k"}), "text_too_long", "k"),
    (json.dumps({"type": "cancel", "id": "no-such-job", "ref": "l"}), "not_found", "l"),
    (json.dumps({"type": "cancel", "ref": "m"}), "invalid_message", "m"),
]


@pytest.mark.parametrize(("frame", "code", "ref"), BAD_INPUT)
async def test_bad_input_gets_a_specific_error_and_the_socket_stays_open(
    ws: Opener, web: str, frame: str, code: str, ref: str | None
) -> None:
    client = await ws(web)
    await client.send(frame)
    error = await client.recv()
    assert error["type"] == "error", error
    assert error["code"] == code, error
    assert error["ref"] == ref
    assert isinstance(error["detail"], str) and error["detail"]
    job = await client.job("still here")
    assert (await client.result_of(job))["result"] == "STILL HERE"


async def test_binary_frame_is_an_error_not_a_crash(ws: Opener, web: str) -> None:
    client = await ws(web)
    await client.connection.send(b"\x00\x01")
    error = await client.recv()
    assert (error["type"], error["code"]) == ("error", "invalid_message")
    await client.send({"type": "ping"})
    assert (await client.recv())["type"] == "pong"


async def test_frame_over_64_kib_closes_with_1009(ws: Opener, web: str) -> None:
    client = await ws(web)
    other = await ws(web)
    await client.send(json.dumps({"type": "send", "text": "x" * (65 * 1024)}))
    with pytest.raises(ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    job = await other.job("unaffected")
    assert (await other.result_of(job))["result"] == "UNAFFECTED"


async def test_foreign_origin_is_refused(ws: Opener, web: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await ws(web, Origin="http://evil.example")
    assert refused.value.response.status_code == 403
    same = await ws(web, Origin=web)
    assert same.welcome["type"] == "welcome"


ISSUED = "Q2ZqTmIv1d8yKJc0r5XwAg"  # the form new_session_id() makes (fixed: stable test ids)


@pytest.mark.parametrize(
    "query",
    [
        "session=bad!",
        "session=short",
        "session=abcdefgh",  # the form is checked: ids are what the server issued
        f"session={ISSUED[:-1]}B",
        "after=5",  # after without the session it resumes
        f"session={ISSUED}&after=-1",
        f"session={ISSUED}&after=abc",
        f"session={ISSUED}&after=1234567890123",
    ],
)
async def test_bad_resume_parameters_close_with_1008(ws: Opener, web: str, query: str) -> None:
    url = web.replace("http://", "ws://") + "/ws?" + query
    async with connect(url) as connection:
        with pytest.raises(ConnectionClosed) as closed:
            await connection.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


async def test_a_cursor_beyond_the_log_continues_from_there(ws: Opener, web: str) -> None:
    client = await ws(web, f"session={new_session_id()}&after=999999999999")
    assert client.welcome["seq"] == 999_999_999_999
    job = await client.job("still numbered")
    assert (await client.result_of(job))["seq"] > 999_999_999_999
    other = await ws(web)
    assert (await other.result_of(await other.job("unaffected")))["result"] == "UNAFFECTED"


async def test_unpaired_surrogates_are_refused_without_harming_others(ws: Opener, web: str) -> None:
    client, other = await ws(web), await ws(web)
    await client.send('{"type":"ping","ref":"\\ud800"}')
    await client.send('{"type":"send","text":"\\udfff x","ref":"t"}')
    await other.send({"type": "ping", "ref": "fine"})
    errors = [await client.recv(), await client.recv()]
    assert [(e["type"], e["code"], e["ref"]) for e in errors] == [
        ("error", "invalid_message", None)
    ] * 2
    assert "surrogate" in errors[0]["detail"]
    assert (await other.recv())["type"] == "pong"


async def test_rate_limit_per_connection(ws: Opener, stack: Stack) -> None:
    stack.settings.update(rate_limit="5")
    base = stack.web()
    client = await ws(base)
    for i in range(12):
        await client.send({"type": "ping", "ref": i})
    replies = [await client.recv() for _ in range(12)]
    limited = [r for r in replies if r["type"] == "error"]
    assert [r["type"] for r in replies[:5]] == ["pong"] * 5
    assert limited and all(r["code"] == "rate_limited" for r in limited)
    assert "retry in" in limited[0]["detail"]
    other = await ws(base)
    await other.send({"type": "ping"})
    assert (await other.recv())["type"] == "pong", "the limit is per connection"


async def test_replies_keep_the_order_of_messages_sent_back_to_back(ws: Opener, web: str) -> None:
    client = await ws(web)
    frames = []
    for i in range(20):
        frames += [
            {"type": "send", "text": f"m{i}", "ref": f"send-{i}"},
            {"type": "ping", "ref": f"ping-{i}"},
            {"type": "send", "text": f"m{i}", "task": "nope", "ref": f"bad-{i}"},
        ]
    for frame in frames:
        await client.send(frame)
    replies = [await client.until(lambda e, r=f["ref"]: e.get("ref") == r) for f in frames]
    order = [r["seq"] for r in replies]
    assert order == sorted(order), f"replies in the order the messages were sent: {client.events}"
    assert [r["type"] for r in replies[:3]] == ["accepted", "pong", "error"]
