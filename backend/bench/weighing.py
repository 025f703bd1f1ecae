"""What a full room weighs: its keys in Redis and the web processes' memory, for the fan-out
bench's progress line once every member is in."""

from __future__ import annotations

import redis

from backend.bench.figures import rss_kb
from backend.bench.members import ROOM
from backend.bench.stack import Stack
from backend.core.keys import Keys


def web_rss_kb(stack: Stack) -> int:
    return sum(rss_kb(pid) for name, pid in stack.pids().items() if name.startswith("web"))


def room_weight(stack: Stack, members: int, rss_before: int) -> str:
    """What the full room takes: its keys in Redis (MEMORY USAGE) and the web processes'
    memory since before the first socket (connections and memberships), in all and per member."""
    grew = web_rss_kb(stack) - rss_before
    web = f"the web processes grew by {grew / 1024:.0f} MB, {grew / members:.1f} KB per member"
    return f"{_redis_weight(stack, members)}; {web}"


def _redis_weight(stack: Stack, members: int) -> str:
    keys = Keys(stack.prefix).room(ROOM).all
    url, cluster = stack.redis_url, stack.plan.redis_cluster
    try:
        with (redis.RedisCluster if cluster else redis.Redis).from_url(url, socket_timeout=5) as r:
            used = sum(int(r.memory_usage(key, samples=0) or 0) for key in keys)
    except redis.RedisError as exc:
        return f"the room's size in Redis unknown ({exc})"
    return f"the room holds {used / 1e6:.2f} MB in Redis, {used / members:.0f} B per member"
