"""Redis going away and coming back: the web process, the hub and workers recover by themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.core.connection import create_redis
from backend.core.listener import ChannelListener
from backend.procs.redis_server import RedisServer
from backend.settings import Settings
from tests.conftest import Opener
from tests.processes import Stack, start_test_redis
from tests.wsclient import Client


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_test_redis(tmp_path / "redis", persistent=True)
    yield server
    server.stop()


@pytest.fixture
def own_stack(own_redis: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(own_redis.url, tmp_path, {"heartbeat_interval": "0.2", "heartbeat_timeout": "1"})
    yield stack
    stack.stop()


async def job_until_accepted(client: Client, text: str, attempts: int = 50) -> str:
    """Sends until the server accepts (while Redis is coming back it answers `unavailable`)."""
    for attempt in range(attempts):
        ref = f"{text}-{attempt}"
        await client.send({"type": "send", "text": text, "ref": ref})
        try:
            reply = await client.until(
                lambda e, r=ref: e.get("ref") == r and e["type"] in ("accepted", "error"), 2
            )
        except (AssertionError, TimeoutError):
            continue  # sent while the web process had not yet noticed the restart
        if reply["type"] == "accepted":
            return str(reply["id"])
        assert reply["code"] == "unavailable", reply
    raise AssertionError("never accepted")


@pytest.mark.slow
async def test_live_socket_survives_a_redis_restart(
    own_redis: RedisServer, own_stack: Stack, ws: Opener
) -> None:
    base = own_stack.web()
    own_stack.worker()
    client = await ws(base)
    first = await client.job("before")
    assert (await client.result_of(first))["result"] == "BEFORE"

    own_redis.stop()
    own_redis.start()

    job = await job_until_accepted(client, "after")
    assert (await client.result_of(job, 20))["result"] == "AFTER"


@pytest.mark.slow
async def test_queued_jobs_survive_a_redis_restart(
    own_redis: RedisServer, own_stack: Stack, ws: Opener
) -> None:
    base = own_stack.web()
    client = await ws(base)
    jobs = [await client.job(f"kept {i}") for i in range(3)]
    own_redis.stop()  # SIGTERM: Redis writes its append-only file
    own_redis.start()
    own_stack.worker()
    for job in jobs:
        assert (await client.result_of(job, 20))["type"] == "result"


@pytest.mark.slow
async def test_workers_recover_when_redis_comes_back_empty(tmp_path: Path, ws: Opener) -> None:
    server = start_test_redis(tmp_path / "redis", persistent=False)
    stack = Stack(server.url, tmp_path, {"heartbeat_interval": "0.2", "heartbeat_timeout": "1"})
    try:
        base = stack.web()
        stack.worker()
        client = await ws(base)
        assert (await client.result_of(await client.job("one")))["type"] == "result"
        server.kill()  # everything in Redis is gone, consumer group included
        server.start()
        job = await job_until_accepted(client, "two")
        assert (await client.result_of(job, 20))["result"] == "TWO"
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        server.stop()


async def test_a_listener_hears_again_when_redis_dies_before_confirming(
    own_redis: RedisServer,
) -> None:
    """Redis killed between a SUBSCRIBE going out and its confirmation coming back: the
    confirmation never comes, and the listener must not wait for it forever."""
    heard: list[str] = []
    came = asyncio.Event()

    def on_message(_: str, data: str) -> None:
        heard.append(data)
        came.set()

    redis = create_redis(Settings(redis_url=own_redis.url))
    held = create_redis(Settings(redis_url=own_redis.url))
    listener = ChannelListener(redis, on_message, channels=["probe"])
    await listener._link("").connect()  # connected, so the SUBSCRIBE itself goes out
    await held.execute_command("CLIENT", "PAUSE", 3000, "ALL")  # it reads, but answers nobody
    running = asyncio.create_task(listener.run())
    try:
        await asyncio.sleep(0.3)
        assert not listener.subscribed.is_set()
        own_redis.kill()
        await asyncio.sleep(0.5)  # down for a while: no quick reconnect finds it
        own_redis.start()
        await asyncio.wait_for(listener.subscribed.wait(), 10)
        assert await redis.publish("probe", "after") == 1
        await asyncio.wait_for(came.wait(), 5)
        assert heard == ["after"]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await redis.aclose()
        await held.aclose()
