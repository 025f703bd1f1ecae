"""Lua scripts run by EVALSHA, batched: calls made while a batch is on the wire go out together
as the next pipeline.

Under load this turns many round trips (one per job, per event) into one write and one read for
a whole batch; when idle, a lone call goes out on the very next loop turn, so latency does not
suffer. One batch is in flight at a time, so calls reach Redis in the order they were made.

A script's first call on each node (and every call after an error, which may mean Redis
restarted with an empty script cache) goes as EVAL with its source, which caches it there. So a
restarted Redis never answers NOSCRIPT in the middle of a batch, where retrying that one call
after the rest of the batch had run would change the order of a session's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from backend.core.connection import is_cluster
from backend.core.outcomes import NotRun
from backend.core.resp import run_batch

Arg = str | int | float


@dataclass
class _Call:
    script: BatchedScript | None  # None: a plain command, `args` whole
    keys: Sequence[str]
    args: Sequence[Arg]
    reply: asyncio.Future[Any]

    def command(self, cached: bool) -> list[Arg]:
        if self.script is None:
            return list(self.args)
        body: list[Arg] = [self.script.sha] if cached else [self.script.source]
        return ["EVALSHA" if cached else "EVAL", *body, len(self.keys), *self.keys, *self.args]


class BatchedScript:
    """Callable like redis-py's Script: `await script(keys=[...], args=[...])`."""

    def __init__(self, pipeline: ScriptPipeline, source: str) -> None:
        self.pipeline = pipeline
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[str] = (), args: Sequence[Arg] = ()) -> Any:
        return await self.pipeline.run(self, keys, args)


class ScriptPipeline:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.pending: list[_Call] = []
        self.sender: asyncio.Task[None] | None = None
        self.cached: set[tuple[str, str]] = set()  # (script sha, node) known to hold it
        self.cluster: Any = redis if is_cluster(redis) else None
        self.node_clients: dict[str, Redis] = {}  # a cluster's primaries, for WAIT

    def script(self, source: str) -> BatchedScript:
        return BatchedScript(self, source)

    async def run_replicated(
        self, script: BatchedScript, keys: Sequence[str], args: Sequence[Arg], replicas: int,
        wait_ms: int,
    ) -> tuple[Any, int]:  # fmt: skip
        """One script call outside the batches, then WAIT on the same connection, which is what
        WAIT counts: (its reply, how many replicas had it within `wait_ms`)."""
        client = self.redis if self.cluster is None else self._node_client(keys[0])
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.execute_command("EVAL", script.source, len(keys), *keys, *args)
                pipe.execute_command("WAIT", replicas, wait_ms)
                reply, acknowledged = await pipe.execute()
        except (RedisError, OSError):
            await self._forget_nodes()
            raise
        return reply, int(acknowledged)

    def _node_client(self, key: str) -> Redis:
        name = str(self.cluster.get_node_from_key(key).name)
        if name not in self.node_clients:
            host, port = name.rsplit(":", 1)
            self.node_clients[name] = Redis(host=host, port=int(port), decode_responses=True)
        return self.node_clients[name]

    async def _forget_nodes(self) -> None:
        """After a failure on a cluster, a key's primary may have changed."""
        if self.cluster is None:
            return
        await self.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self.cluster.nodes_manager.initialize()

    async def aclose(self) -> None:
        """Closes the per-node clients `run_replicated` opened (none on a single Redis)."""
        clients, self.node_clients = list(self.node_clients.values()), {}
        for client in clients:
            await client.aclose()

    async def command(self, *args: Arg) -> Any:
        """A plain command, sent in order with the script calls around it."""
        return await self.run(None, (), args)

    async def run(
        self, script: BatchedScript | None, keys: Sequence[str], args: Sequence[Arg]
    ) -> Any:
        call = _Call(script, keys, args, asyncio.get_running_loop().create_future())
        self.pending.append(call)
        if self.sender is None:
            self.sender = asyncio.create_task(self._send_all())
        return await call.reply

    async def _send_all(self) -> None:
        """Sends batches until nothing is pending; the first waits one loop turn to gather."""
        try:
            await asyncio.sleep(0)
            while self.pending:
                batch, self.pending = self.pending, []
                await self._send(batch)
        finally:
            self.sender = None

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await self._execute(batch)
        except (RedisError, OSError) as exc:  # every caller hears of it; none waits forever
            self.cached.clear()  # perhaps a new Redis, with an empty script cache
            for call in batch:
                _settle(call.reply, error=exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0].reply, error=exc)
                return
            # One call could not even be sent (say, text Redis cannot take): send the calls
            # one by one, so only that call fails and the others go through.
            for call in batch:
                await self._send([call])
            return
        for call, first in zip(batch, replies, strict=True):
            reply = first
            if isinstance(reply, NoScriptError):  # SCRIPT FLUSH under a running process
                self.cached.clear()
                reply = await self._load_and_retry(call)
            if isinstance(reply, Exception):
                _settle(call.reply, error=reply)
            else:
                _settle(call.reply, value=reply)

    async def _execute(self, batch: list[_Call]) -> list[Any]:
        if self.cluster is not None:
            await self.cluster.initialize()  # learns the slot map once; a no-op after
        wheres = [self._where(call) for call in batch]
        commands = [call.command(w in self.cached) for call, w in zip(batch, wheres, strict=True)]
        if self.cluster is None:
            pool = self.redis.connection_pool
            replies = await run_batch(pool, await self._connection(), commands)
        else:  # a cluster pipeline sends each command to the node owning its key
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                replies = list(await pipe.execute(raise_on_error=False))
        ran = zip(wheres, replies, strict=True)
        self.cached.update(where for where, r in ran if where[0] and not isinstance(r, Exception))
        return replies

    async def _connection(self) -> Any:
        """A live connection for the next batch. Failing here, nothing was sent (NotRun); any
        error after this may come after Redis ran the calls."""
        pool: Any = self.redis.connection_pool
        try:
            return await pool.get_connection()
        except (RedisError, OSError) as exc:
            raise NotRun(str(exc)) from exc

    def _where(self, call: _Call) -> tuple[str, str]:
        """The script and the node that will run it ('' for a plain command)."""
        if call.script is None:
            return "", ""
        if self.cluster is None or not call.keys:
            return call.script.sha, ""
        return call.script.sha, str(self.cluster.get_node_from_key(call.keys[0]).name)

    async def _load_and_retry(self, call: _Call) -> Any:
        assert call.script is not None, "only a script call can miss its script"
        try:
            await self.redis.script_load(call.script.source)
            keys, args = call.keys, call.args
            return await self.redis.evalsha(call.script.sha, len(keys), *keys, *args)
        except RedisError as exc:
            return exc


def _settle(
    reply: asyncio.Future[Any], value: Any = None, error: BaseException | None = None
) -> None:
    if reply.done():  # the caller went away
        return
    if error is not None:
        reply.set_exception(error)
    else:
        reply.set_result(value)
