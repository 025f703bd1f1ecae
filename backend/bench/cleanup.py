"""Removing a bench's keys from a Redis the bench does not own, so a run leaves nothing behind."""

from __future__ import annotations

import redis

from backend.bench.client import say


def forget_keys(url: str, prefix: str, cluster: bool) -> None:
    """Removes the bench's keys from a Redis the bench does not own (every primary of a
    cluster)."""
    try:
        if cluster:
            with redis.RedisCluster.from_url(url, socket_timeout=5) as nodes:
                for node in nodes.get_primaries():
                    with redis.Redis(host=node.host, port=node.port, socket_timeout=5) as client:
                        _unlink_matching(client, f"{prefix}*", one_slot=False)
        else:
            with redis.Redis.from_url(url, socket_timeout=5) as client:
                _unlink_matching(client, f"{prefix}*", one_slot=True)
    except redis.RedisError as exc:
        say(f"could not remove the keys under {prefix!r}: {exc}")


def _unlink_matching(client: redis.Redis, pattern: str, one_slot: bool) -> None:
    """In batches of 1000, so neither the client nor Redis holds every key at once. A cluster
    node takes one key per UNLINK (a batch's keys sit in many slots)."""
    batch: list[bytes] = []

    def unlink() -> None:
        if one_slot:
            client.unlink(*batch)
        else:
            with client.pipeline(transaction=False) as pipe:
                for key in batch:
                    pipe.unlink(key)
                pipe.execute()
        batch.clear()

    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) == 1000:
            unlink()
    if batch:
        unlink()
