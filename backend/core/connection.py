"""The one Redis connection pool of a process, on a single Redis or a Redis Cluster, and the
readiness probe built on it.

Both clients speak the same commands; the cluster client routes each to the node owning its
key's slot, follows redirects and failovers, and runs pipelines per node. Code elsewhere is
written against `Redis` and asks `is_cluster` where the two differ (pub/sub, WAIT, INFO).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.maint_notifications import MaintNotificationsConfig

from backend.settings import Settings

DEFAULT_URL = "redis://127.0.0.1:6379/0"


class _WriteErrors:
    """uvloop raises RuntimeError for a write on a transport that has just closed (Redis went
    away between the pool's check and the write), where asyncio raises an OSError: as the
    ConnectionError redis-py makes of the latter, it is the outage every caller handles, not a
    crash of whatever loop made the call."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except RuntimeError as exc:
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise RedisConnectionError(f"Redis connection closed while writing: {exc}") from exc


class _TcpConnection(_WriteErrors, Connection):
    pass


class _TlsConnection(_WriteErrors, SSLConnection):
    pass


class _UnixConnection(_WriteErrors, UnixDomainSocketConnection):
    pass


def _connection_options(scheme: str) -> dict[str, Any]:
    """Keep-alive is a TCP option: a unix socket connection takes no `socket_keepalive`."""
    if scheme == "unix":
        return {"connection_class": _UnixConnection}
    tcp = _TlsConnection if scheme == "rediss" else _TcpConnection
    return {"connection_class": tcp, "socket_keepalive": True}


def create_redis(settings: Settings, url: str | None = None) -> Redis:
    """A client over one pool. On a single Redis the client never sends a command again by
    itself: a command whose reply was lost may have run, and only its caller knows whether
    running it twice is harmless (`loops.patiently` retries those that are). A pooled connection
    that died with a restarted Redis is replaced when it is next taken from the pool."""
    target = url or settings.redis_url or DEFAULT_URL
    if settings.redis_cluster:
        cluster = RedisCluster.from_url(
            target,
            decode_responses=True,
            socket_connect_timeout=2.0,
            socket_keepalive=True,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=6),
        )
        return cast(Redis, cluster)  # the same commands; see is_cluster for the differences
    return Redis.from_url(
        target,
        decode_responses=True,
        socket_connect_timeout=2.0,
        **_connection_options(urlsplit(target).scheme),
        health_check_interval=15,
        retry=Retry(NoBackoff(), retries=0),
        # Off, or the pool skips its check for connections that died with a restarted Redis
        # and sends the next command on one of them.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )


def is_cluster(redis: Redis) -> bool:
    return isinstance(redis, RedisCluster)


async def check_redis(redis: Redis, within: float = 1.0) -> str | None:
    """None when Redis answers PING in time, else the reason it does not."""
    try:
        async with asyncio.timeout(within):
            await redis.ping()
    except TimeoutError:
        return f"Redis did not answer PING within {within:g}s"
    except (RedisError, OSError) as exc:
        return f"Redis unreachable: {exc}"
    return None
