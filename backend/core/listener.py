"""A process's pub/sub listener: its channels, on as few connections as it takes, subscribing
again by itself after an outage or a failover.

On a single Redis that is one connection. On a cluster, ordinary channels (the control channel,
the job feed) reach every node, so one connection to any node hears them; sharded channels (a
web process's own, the rooms', the pub/sub topics) live on the node owning their slot, so each
such node gets a connection of its own. When any connection fails, all are rebuilt from a fresh
view of the cluster and every channel is subscribed again; the owner is told (`on_reconnect`)
so it can catch up on what was published meanwhile, which pub/sub itself never keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from backend.core.connection import is_cluster
from backend.core.loops import cancel_and_wait, stop_if_cancelled
from backend.core.outcomes import NotRun

log = logging.getLogger("courier.listener")

BACKOFF_MAX = 5.0
MESSAGES = ("message", "smessage")
CONFIRMATIONS = ("subscribe", "ssubscribe")


class ChannelListener:
    """Calls `on_message(channel, data)` for each message on `channels` (ordinary pub/sub) and
    `shard_channels` (sharded pub/sub on a cluster; ordinary on a single Redis)."""

    def __init__(
        self,
        redis: Redis,
        on_message: Callable[[str, str], None],
        on_reconnect: Callable[[], Coroutine[Any, Any, None]] | None = None,
        channels: list[str] | None = None,
        shard_channels: list[str] | None = None,
    ) -> None:
        self.redis = redis
        self.cluster = is_cluster(redis)
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self.channels = set(channels or [])
        self.shard_channels = set(shard_channels or [])
        self.subscribed = asyncio.Event()
        self.failures = 0
        self.rounds = 0
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._links: dict[str, PubSub] = {}  # "" for ordinary channels, else a node's name
        self._clients: list[Redis] = []  # per-node clients of a cluster's links
        self._readers: set[asyncio.Task[None]] = set()
        self._reading: set[str] = set()
        self._catching_up: asyncio.Task[None] | None = None
        self._broken: asyncio.Future[BaseException] | None = None

    async def run(self) -> None:
        while True:
            stop_if_cancelled()
            self._broken = asyncio.get_running_loop().create_future()
            try:
                await self._connect_all()
                raise await self._broken
            except (RedisError, OSError) as exc:
                if self.failures == 0:
                    log.warning("pub/sub connection lost (%s); reconnecting", exc)
                self.failures += 1
            finally:
                await self._close_all()
            await asyncio.sleep(min(BACKOFF_MAX, 0.05 * 2**self.failures))
            await self._refresh_topology()

    async def subscribe(self, channel: str, sharded: bool = True, within: float = 5.0) -> None:
        """Adds a channel and returns once Redis confirmed it (or it will be, on reconnect).
        A second caller for the same channel waits for the same confirmation. NotRun when it
        does not come `within` seconds: what was to follow the subscription was not done."""
        chosen = self.shard_channels if sharded else self.channels
        if channel in chosen and channel not in self._waiting and self.subscribed.is_set():
            return  # confirmed already: the common case, with no timer to set
        try:
            await self._subscribe(channel, sharded, chosen, within)
        except TimeoutError:
            raise NotRun(f"Redis did not confirm a subscription within {within:g}s") from None

    async def _subscribe(
        self, channel: str, sharded: bool, chosen: set[str], within: float
    ) -> None:
        async with asyncio.timeout(within):
            if channel not in chosen:
                chosen.add(channel)
                if self.subscribed.is_set():
                    self._expect(channel)
                    await self._send_subscribe(channel, sharded)
            if not self.subscribed.is_set():
                await self.subscribed.wait()  # the (re)connect subscribes it with the rest
            waiting = self._waiting.get(channel)
            if waiting is not None:
                await asyncio.shield(waiting)

    async def unsubscribe(self, channel: str, sharded: bool = True) -> None:
        (self.shard_channels if sharded else self.channels).discard(channel)
        link = self._links.get(self._link_name(channel, sharded))
        if link is not None:
            try:
                await (link.sunsubscribe if sharded and self.cluster else link.unsubscribe)(channel)
            except (RedisError, OSError) as exc:  # the next reconnect leaves it out anyway
                log.debug("unsubscribe of %s failed: %s", channel, exc)

    # Connections -------------------------------------------------------------------------------

    async def _connect_all(self) -> None:
        if self.cluster:
            await self.redis.initialize()
        pending = [self._expect(c) for c in self.channels | self.shard_channels]
        for channel in self.channels:
            await self._send_subscribe(channel, sharded=False)
        for channel in self.shard_channels:
            await self._send_subscribe(channel, sharded=True)
        await self._confirmed(pending)
        again = self.rounds > 0
        self.rounds += 1
        self.failures = 0
        self.subscribed.set()
        if again:
            log.info("pub/sub connection restored")
            if self.on_reconnect is not None:
                await self.on_reconnect()

    async def _confirmed(self, pending: list[asyncio.Future[None]]) -> None:
        """Waits for Redis to confirm every subscription, unless a link breaks first: a link
        lost before its confirmations came never brings them, and waiting on would leave the
        process deaf until it restarts."""
        assert self._broken is not None, "only called from `run`"
        confirmed: asyncio.Future[Any] = asyncio.gather(*pending)
        either: list[asyncio.Future[Any]] = [confirmed, self._broken]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not confirmed.done():
            confirmed.cancel()
            raise self._broken.result()

    async def _send_subscribe(self, channel: str, sharded: bool) -> None:
        name = self._link_name(channel, sharded)
        link = self._link(name)
        if sharded and self.cluster:
            await link.ssubscribe(channel)
        else:
            await link.subscribe(channel)
        if name not in self._reading:  # redis-py reads only once a subscription was sent
            self._reading.add(name)
            reader = asyncio.create_task(self._read(link), name=f"pub/sub reader {name}")
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)

    def _link_name(self, channel: str, sharded: bool) -> str:
        if not (sharded and self.cluster):
            return ""
        return str(self.redis.get_node_from_key(channel).name)  # type: ignore[attr-defined]

    def _link(self, name: str) -> PubSub:
        if name not in self._links:
            client = self.redis if not self.cluster else self._node_client(name)
            self._links[name] = client.pubsub()
        return self._links[name]

    def _node_client(self, name: str) -> Redis:
        """A plain client for one node: ordinary channels on the first primary, sharded ones on
        the node owning them."""
        cluster: Any = self.redis
        node = cluster.get_node(node_name=name) if name else cluster.get_primaries()[0]
        client = Redis(host=node.host, port=node.port, decode_responses=True)
        self._clients.append(client)
        return client

    async def _read(self, link: PubSub) -> None:
        try:
            while True:
                stop_if_cancelled()
                message = await link.get_message(timeout=None)
                if message is not None:
                    self._handle(message)
        except Exception as exc:  # whatever broke the link (uvloop raises RuntimeError), rebuild
            if not isinstance(exc, (RedisError, OSError)):
                log.warning("pub/sub link failed: %r", exc)
                exc = RedisConnectionError(f"pub/sub link failed: {exc!r}")
            if self._broken is not None and not self._broken.done():
                self._broken.set_result(exc)

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], str(message["channel"])
        if kind in MESSAGES:
            self.on_message(channel, str(message["data"]))
        elif kind == "sunsubscribe" and channel in self.shard_channels:
            self._moved(channel)
        elif kind in CONFIRMATIONS:
            waiting = self._waiting.pop(channel, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
            elif waiting is None and self.subscribed.is_set():
                self._resubscribed()

    def _moved(self, channel: str) -> None:
        """A node that stops owning a slot (a failover, a resharding) unsubscribes its sharded
        channels itself: every link is rebuilt on the new owners, then the owner catches up."""
        if self._broken is not None and not self._broken.done():
            self._broken.set_result(ConnectionError(f"{channel} moved to another node"))

    def _resubscribed(self) -> None:
        """redis-py reconnected a link by itself and subscribed again: whatever was published
        in between never arrived, so the owner catches up (once for a burst of these)."""
        if self.on_reconnect is None or (self._catching_up and not self._catching_up.done()):
            return
        log.info("pub/sub connection restored")
        self._catching_up = asyncio.create_task(self.on_reconnect())

    def _expect(self, channel: str) -> asyncio.Future[None]:
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[channel] = waiting
        return waiting

    async def _close_all(self) -> None:
        self.subscribed.clear()
        await cancel_and_wait(list(self._readers))
        self._reading.clear()
        links, self._links = list(self._links.values()), {}
        for link in links:
            with contextlib.suppress(RedisError, OSError):
                await link.aclose()  # type: ignore[no-untyped-call]
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()
        for waiting in self._waiting.values():
            waiting.cancel()
        self._waiting.clear()

    async def _refresh_topology(self) -> None:
        """After a failure on a cluster, learn which node owns which slot now."""
        if self.cluster:
            try:
                await self.redis.nodes_manager.initialize()  # type: ignore[attr-defined]
            except (RedisError, OSError) as exc:
                log.debug("cluster topology refresh failed: %s", exc)
