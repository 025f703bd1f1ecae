"""A real local Redis Cluster: it forms, redis-py's cluster client works against it, and it heals
after a manual failover and after a primary is SIGKILLed. The cluster lives for the whole session,
so every test here leaves it healthy (possibly with other nodes as primaries)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis as sync_redis
from redis.cluster import RedisCluster

from backend.procs.redis_cluster import PORT_LIMIT, SLOTS, LocalCluster, Node

pytestmark = pytest.mark.slow


@pytest.fixture
def client(cluster_url: str) -> Iterator[RedisCluster]:
    cluster_client = RedisCluster.from_url(cluster_url, decode_responses=True)
    yield cluster_client
    cluster_client.close()


def node_client(node: Node) -> sync_redis.Redis:
    return sync_redis.Redis(host=node.host, port=node.port, decode_responses=True)


def key_per_primary(cluster: LocalCluster, client: RedisCluster) -> dict[Node, str]:
    """One key for each primary, found by the key's hash slot."""
    keys: dict[Node, str] = {}
    for index in range(1000):
        key = f"key-{index}"
        keys.setdefault(cluster.node_for_slot(client.keyslot(key)), key)
        if len(keys) == len(cluster.primaries()):
            return keys
    raise AssertionError(f"no key for every primary: {keys}")


def test_cluster_has_three_primaries_with_a_replica_each(redis_cluster: LocalCluster) -> None:
    redis_cluster.wait_healthy()  # the session's cluster: a test before may have killed a node
    shards = redis_cluster.shards()
    assert len(shards) == 3
    assert all(len(shard.replicas) == 1 for shard in shards), shards
    assert len(redis_cluster.primaries()) == 3
    assert len(redis_cluster.replicas()) == 3
    nodes = {*redis_cluster.primaries(), *redis_cluster.replicas()}
    assert {node.port for node in nodes} == set(redis_cluster.ports)
    assert all(port < PORT_LIMIT for port in redis_cluster.ports)
    covered = [slot for shard in shards for a, b in shard.slots for slot in range(a, b + 1)]
    assert sorted(covered) == list(range(SLOTS))
    assert redis_cluster.is_healthy()


def test_client_reads_and_writes_keys_on_every_primary(
    redis_cluster: LocalCluster, client: RedisCluster
) -> None:
    keys = key_per_primary(redis_cluster, client)
    assert len(keys) == 3
    for primary, key in keys.items():
        with node_client(primary) as direct:
            assert direct.execute_command("CLUSTER KEYSLOT", key) == client.keyslot(key)
        assert client.set(key, str(primary))
    for primary, key in keys.items():
        assert client.get(key) == str(primary)
        with node_client(primary) as direct:  # the key really lives on that primary
            assert direct.get(key) == str(primary)


def test_failover_promotes_the_replica_and_the_client_keeps_working(
    redis_cluster: LocalCluster, client: RedisCluster
) -> None:
    key = "failover-key"
    slot = client.keyslot(key)
    old = redis_cluster.node_for_slot(slot)
    shard = next(s for s in redis_cluster.shards() if s.primary == old)
    assert client.set(key, "before")

    started = time.monotonic()
    new = redis_cluster.failover(old.port)
    promoted = time.monotonic() - started
    redis_cluster.wait_healthy(10)
    print(f"failover: promoted in {promoted:.2f}s, healthy in {time.monotonic() - started:.2f}s")

    assert new == shard.replicas[0]
    assert redis_cluster.node_for_slot(slot) == new
    assert old in redis_cluster.replicas()
    assert client.get(key) == "before"
    assert client.set(key, "after")
    with node_client(new) as direct:
        assert direct.get(key) == "after"


def test_killed_primary_is_replaced_and_comes_back_as_a_replica(
    redis_cluster: LocalCluster, client: RedisCluster
) -> None:
    key = "crash-key"
    slot = client.keyslot(key)
    victim = redis_cluster.node_for_slot(slot)
    replica = next(s for s in redis_cluster.shards() if s.primary == victim).replicas[0]
    assert client.set(key, "kept")
    with node_client(victim) as direct:
        assert direct.wait(1, 2000) == 1  # the replica has the key before the crash

    redis_cluster.kill(victim.port)
    healed = redis_cluster.wait_healthy(10)
    print(f"kill -9 of a primary: serving every slot again after {healed:.2f}s")

    assert redis_cluster.node_for_slot(slot) == replica
    assert victim not in redis_cluster.primaries()
    assert client.get(key) == "kept"
    assert client.set(key, "after the crash")

    started = time.monotonic()
    redis_cluster.restart(victim.port)
    redis_cluster.wait_healthy(10)
    print(f"restart: rejoined as a replica after {time.monotonic() - started:.2f}s")
    shard = next(s for s in redis_cluster.shards() if s.primary == replica)
    assert shard.replicas == (victim,)
    with node_client(victim) as direct:
        assert direct.execute_command("READONLY")
        assert direct.get(key) == "after the crash"
