"""Memory per connection: a web process that held N idle sockets, all closed, holds N again
without growing (docs/operations.md, Memory per connection). Whatever a closed socket left
behind would raise the second round's peak by N times its size.

Once the sockets are closed, how much of the memory CPython's allocator gives back depends on
where the few blocks that outlive a round happen to lie (an arena is freed only when empty): a few
MB either way here, tens of MB at 10,000 sockets. So the end of the second round is held to the
most the first round took, not to where the first round happened to end."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from dataclasses import dataclass

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.processes import Stack

SOCKETS = 3_000  # about 35 KB each: 105 MB a round; a 10,000-socket run is in docs/operations.md
AT_ONCE = 100  # handshakes in flight
GROWTH_MB = 3.0  # one KB kept per closed socket would be 3 MB

pytestmark = pytest.mark.slow


@dataclass
class Round:
    peak: float
    after: float


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def sessions(base: str) -> int:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(r"^courier_web_sessions\{[^}]*\} (\S+)$", text, re.MULTILINE)
    assert found, "no courier_web_sessions in /metrics"
    return int(float(found.group(1)))


async def until_sessions(base: str, count: int, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while (now := await asyncio.to_thread(sessions, base)) != count:
        assert time.monotonic() < deadline, f"{now} sessions, waiting for {count}"
        await asyncio.sleep(0.2)


async def open_sockets(url: str, count: int) -> list[ClientConnection]:
    gate = asyncio.Semaphore(AT_ONCE)

    async def one() -> ClientConnection:
        async with gate:
            socket = await connect(url, ping_interval=None, compression=None, open_timeout=30)
            welcome = json.loads(await socket.recv())
            assert welcome["type"] == "welcome", welcome
            return socket

    return await asyncio.gather(*(one() for _ in range(count)))


async def close_sockets(sockets: list[ClientConnection]) -> None:
    gate = asyncio.Semaphore(AT_ONCE * 5)

    async def one(socket: ClientConnection) -> None:
        async with gate:
            await socket.close()

    await asyncio.gather(*(one(socket) for socket in sockets))


async def one_round(base: str, pid: int) -> Round:
    """RSS with SOCKETS open, and once the web process has closed every one of them."""
    sockets = await open_sockets(base.replace("http://", "ws://") + "/ws", SOCKETS)
    await until_sessions(base, SOCKETS)
    peak = rss_mb(pid)
    await close_sockets(sockets)
    await until_sessions(base, 0)
    await asyncio.sleep(1.0)  # a closed session's last Redis calls (leaving, detaching)
    return Round(peak, rss_mb(pid))


async def test_sockets_opened_and_closed_twice_leave_the_web_process_no_larger(
    stack: Stack,
) -> None:
    base = stack.web()
    pid = stack.roles[-1].pid
    first = await one_round(base, pid)
    second = await one_round(base, pid)
    print(f"RSS MB, {SOCKETS} sockets: first {first}, second {second}")
    assert second.peak <= first.peak + GROWTH_MB, (first, second)
    assert second.after <= max(first.peak, first.after) + GROWTH_MB, (first, second)
