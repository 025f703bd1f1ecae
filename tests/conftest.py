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


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, heartbeat_interval=0.2, heartbeat_timeout=1.0)


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.key_prefix)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = create_redis(settings)
    yield client
    await client.aclose()


@pytest.fixture
def stack(redis_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """Courier processes started by the test; their logs are printed if the test fails."""
    running = Stack(redis_url, tmp_path, {"heartbeat_interval": "0.2", "heartbeat_timeout": "1"})
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
