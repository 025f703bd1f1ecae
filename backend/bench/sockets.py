"""Many client sockets at once: the file descriptors they take, and handshakes in parallel."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Sequence

from websockets.asyncio.client import ClientConnection, connect

from backend.bench.lean import LeanSocket, lean_connect

AT_ONCE = 200  # handshakes in flight at a time: more only fills the listen backlog
SPARE_FDS = 256  # beyond one per socket: Redis connections, logs, the interpreter's own files


def allow_sockets(sockets: int) -> str | None:
    """Raises the soft limit on open files as far as the hard one, for the bench and the
    processes it starts (they inherit it); why not, when that is too few."""
    needed = sockets + SPARE_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    if hard != resource.RLIM_INFINITY and hard < needed:
        return f"{sockets} sockets need `ulimit -n {needed}` or more (hard limit {hard})"
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return None


BenchSocket = ClientConnection | LeanSocket


async def open_all(urls: Sequence[str], sockets: list[BenchSocket], lean: bool = False) -> None:
    """Opens one socket per url into `sockets`, in the urls' order, AT_ONCE handshakes at a
    time (`lean`: a LeanSocket, else websockets' client). Those opened stay in `sockets` when
    one fails, so the caller closes them all."""
    slots = asyncio.Semaphore(AT_ONCE)
    opened: list[BenchSocket | None] = [None] * len(urls)

    async def one(index: int, url: str) -> None:
        async with slots:
            if lean:
                async with asyncio.timeout(30):
                    opened[index] = await lean_connect(url)
            else:
                opened[index] = await connect(url, open_timeout=30, close_timeout=1)

    try:
        async with asyncio.TaskGroup() as group:
            for index, url in enumerate(urls):
                group.create_task(one(index, url))
    finally:
        sockets.extend(socket for socket in opened if socket is not None)
