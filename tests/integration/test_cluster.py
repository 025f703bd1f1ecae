"""Courier on a real Redis Cluster: its keys spread over the primaries, and a primary failing
over in the middle of a queue load loses no job that was accepted, while every process carries
on by itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from backend.core.connection import create_redis
from backend.core.keys import Keys
from backend.core.listener import ChannelListener
from backend.procs.child import Child, role_argv
from backend.procs.redis_cluster import LocalCluster
from backend.procs.redis_server import free_port
from backend.settings import Settings
from tests.conftest import Opener
from tests.processes import Stack, courier_env, http_json, http_status, wait_until
from tests.wsclient import Client

pytestmark = pytest.mark.slow

KEYS = Keys("courier:")
ADMIN = "cluster-test-admin"  # reads sockets' jobs over REST


def owners(cluster: LocalCluster, names: list[str]) -> set[int]:
    """The ports of the primaries holding these keys."""
    client = RedisCluster.from_url(cluster.url)
    try:
        return {cluster.node_for_slot(client.keyslot(name)).port for name in names}
    finally:
        client.close()


def cluster_stack(cluster_url: str, tmp_path: Path, **settings: str) -> Stack:
    base = {
        "heartbeat_interval": "0.2",
        "heartbeat_timeout": "1",
        "redis_cluster": "true",
        "admin_token": ADMIN,
    }
    return Stack(cluster_url, tmp_path, {**base, **settings})


async def test_keys_land_on_several_primaries(
    redis_cluster: LocalCluster, cluster_url: str, tmp_path: Path, ws: Opener
) -> None:
    stack = cluster_stack(cluster_url, tmp_path)
    try:
        base = stack.web()
        stack.worker()
        clients = [await ws(base) for _ in range(8)]
        for index, client in enumerate(clients):
            await client.result_of(await client.job(f"spread {index}"))
            await client.send({"type": "join", "room": f"room-{index}", "name": "n"})
            await client.until(lambda e: e["type"] == "presence")
    finally:
        stack.stop()
    sessions = [KEYS.session(c.session).log for c in clients]
    rooms = [KEYS.room(f"room-{i}").stream for i in range(8)]
    assert len(owners(redis_cluster, sessions)) >= 2, "sessions spread over the primaries"
    assert len(owners(redis_cluster, rooms)) >= 2, "rooms spread over the primaries"
    assert len(owners(redis_cluster, [KEYS.stream, KEYS.job("x"), KEYS.stats])) == 1


async def test_a_sharded_subscription_follows_its_slot_to_the_new_primary(
    redis_cluster: LocalCluster, cluster_url: str
) -> None:
    """The old primary unsubscribes its sharded channels when it hands the slot over; the
    listener subscribes again on the new owner and tells its owner to catch up."""
    redis = create_redis(Settings(redis_url=cluster_url, redis_cluster=True))
    heard: list[str] = []
    caught_up, after = asyncio.Event(), asyncio.Event()

    def on_message(_: str, data: str) -> None:
        heard.append(data)
        if data == "after":
            after.set()

    async def on_reconnect() -> None:
        caught_up.set()

    channel = "courier:{s:follow}:probe"
    listener = ChannelListener(redis, on_message, on_reconnect, shard_channels=[channel])
    running = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.subscribed.wait(), 10)
        await redis.execute_command("SPUBLISH", channel, "before")
        owner = owners(redis_cluster, [channel]).pop()
        await asyncio.to_thread(redis_cluster.failover, owner)
        await asyncio.wait_for(caught_up.wait(), 10)
        await redis.nodes_manager.initialize()
        await redis.execute_command("SPUBLISH", channel, "after")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(after.wait(), 5)
        assert heard == ["before", "after"]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await redis.aclose()
        await asyncio.to_thread(redis_cluster.wait_healthy, 20)


async def send_load(client: Client, count: int, pause: float) -> tuple[list[str], int]:
    """Sends jobs one after another; returns the ids accepted and how many were refused."""
    accepted, refused = [], 0
    for index in range(count):
        ref = f"load-{index}"
        await client.send({"type": "send", "text": f"job {index}", "ref": ref})
        reply = await client.until(lambda e, r=ref: e.get("ref") == r and e["type"] != "result")
        if reply["type"] == "accepted":
            accepted.append(str(reply["id"]))
        else:
            assert reply["code"] == "unavailable", reply
            refused += 1
        await asyncio.sleep(pause)
    return accepted, refused


def all_succeeded(base: str, ids: list[str]) -> bool:
    return all(
        http_json(f"{base}/api/jobs/{job_id}", headers={"X-Admin-Token": ADMIN})[1].get("status")
        == "succeeded"
        for job_id in ids
    )


@pytest.mark.parametrize("fault", ["graceful failover", "kill -9"])
async def test_a_primary_failing_over_loses_no_accepted_job(
    redis_cluster: LocalCluster, cluster_url: str, tmp_path: Path, ws: Opener, fault: str
) -> None:
    # A job whose start the crash lost is taken over after the visibility timeout: keep it short.
    stack = cluster_stack(cluster_url, tmp_path, redis_wait_replicas="1", visibility_timeout="3")
    try:
        base = stack.web()
        stack.worker()
        stack.worker()
        client = await ws(base)
        queue_port = owners(redis_cluster, [KEYS.stream]).pop()
        load = asyncio.create_task(send_load(client, 300, 0.01))
        await asyncio.sleep(1.0)
        started = time.monotonic()
        if fault == "kill -9":
            redis_cluster.kill(queue_port)
        else:
            redis_cluster.failover(queue_port)
        await asyncio.to_thread(redis_cluster.wait_healthy, 20)
        healed = time.monotonic() - started
        if fault == "kill -9":
            # Back as the new primary's replica, as an operator would bring it back: until
            # then every WAIT 1 waits out its timeout. From this thread: a child started from
            # a worker thread is sent SIGTERM when that thread ends (see procs.child).
            redis_cluster.restart(queue_port)
        accepted, refused = await load
        await asyncio.to_thread(
            wait_until, lambda: all_succeeded(base, accepted), 60, "every accepted job to succeed"
        )
        assert len(accepted) + refused == 300
        assert len(accepted) > 150, f"the load went on after the failover ({healed:.1f}s)"
        more = await client.job("after the failover")
        assert (await client.result_of(more, 20))["result"] == "AFTER THE FAILOVER"
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        if not redis_cluster.is_healthy():
            redis_cluster.wait_healthy(20)


def read_page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


async def test_courier_run_serves_on_the_cluster_and_shows_its_topology(
    redis_cluster: LocalCluster, cluster_url: str, tmp_path: Path, ws: Opener
) -> None:
    """`courier run` with a cluster's URL: its web, worker and subscriber all on the cluster,
    and the status and dashboard say so."""
    port = free_port()
    env = courier_env(cluster_url, redis_cluster="true", heartbeat_interval="0.2")
    argv = ["run", "--port", str(port), "--workers", "1", "--subscribers", "1"]
    run = Child("run", role_argv(*argv), tmp_path / "run.log", cwd=tmp_path).start(env)
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(
            wait_until, lambda: http_status(base + "/readyz") == 200, 30, "courier run ready"
        )
        client = await ws(base)
        assert (await client.result_of(await client.job("on a cluster")))[
            "result"
        ] == "ON A CLUSTER"
        await client.send({"type": "send", "mode": "pubsub", "text": "hi", "ref": "p"})
        await client.until(lambda e: e["type"] == "result" and e.get("ref") == "p")
        status = http_json(base + "/api/status")[1]
        assert (status["redis_mode"], status["redis_primaries"]) == ("cluster", 3)
        page = await asyncio.to_thread(read_page, base + "/dashboard")
        assert "Cluster, 3 primaries" in page
        assert page.count("16384") == 0 and page.count(">5461<") + page.count(">5462<") == 3
    finally:
        run.stop(10)
