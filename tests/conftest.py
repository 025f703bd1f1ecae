"""Fixtures: a real redis-server per test session, a clean keyspace per test, real processes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from backend.core.connection import create_redis
from backend.core.keys import Keys
from backend.procs.redis_cluster import LocalCluster
from backend.procs.redis_server import RedisServer
from backend.settings import Settings
from tests.processes import Stack, start_test_redis
from tests.wsclient import Client


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_test_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's server, emptied first: every test starts from a clean keyspace."""
    client = sync_redis.Redis(host=redis_server.host, port=redis_server.port)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A real 6-node Redis Cluster, started (about 2 s) only in sessions whose tests ask for it."""
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_url(redis_cluster: LocalCluster) -> str:
    """The session's cluster, healthy (a test before may have failed a node over) and emptied
    first: FLUSHALL on every primary, which their replicas follow."""
    redis_cluster.wait_healthy()
    for node in redis_cluster.primaries():
        client = sync_redis.Redis(host=node.host, port=node.port)
        client.flushall()
        client.close()
    return redis_cluster.url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `cluster` that use the Redis fixtures run twice: on the single server and on
    the local cluster."""
    if "redis_target" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("cluster") is not None
        metafunc.parametrize("redis_target", ["single", "cluster"] if both else ["single"])


@pytest.fixture
def redis_target(request: pytest.FixtureRequest) -> str:
    """Which Redis a test's stack and clients use (parametrized in pytest_generate_tests)."""
    return str(request.param)


@pytest.fixture
def target_url(redis_target: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("cluster_url" if redis_target == "cluster" else "redis_url"))


@pytest.fixture
def settings(target_url: str, redis_target: str) -> Settings:
    return Settings(
        redis_url=target_url,
        redis_cluster=redis_target == "cluster",
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
    )


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.key_prefix)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = create_redis(settings)
    yield client
    await client.aclose()


@pytest.fixture
def stack(
    target_url: str, redis_target: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """Courier processes started by the test; their logs are printed if the test fails."""
    settings = {"heartbeat_interval": "0.2", "heartbeat_timeout": "1"}
    if redis_target == "cluster":
        settings["redis_cluster"] = "true"
    running = Stack(target_url, tmp_path, settings)
    yield running
    running.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(running.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


os.environ.pop("COURIER_REDIS_URL", None)


Opener = Callable[..., Awaitable[Client]]


@pytest.fixture
async def ws() -> AsyncIterator[Opener]:
    """Opens /ws clients (`await ws(base_url, query, **headers)`) and closes them afterwards."""
    opened: list[Client] = []

    async def open_client(base_url: str, query: str = "", **headers: str) -> Client:
        client = await Client.open(base_url, query, **headers)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.close()
