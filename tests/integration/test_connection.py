"""The process's Redis client against real servers: every URL scheme it accepts connects."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.core.connection import check_redis, create_redis
from backend.procs.redis_server import find_redis_server
from backend.settings import Settings


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    """A private redis-server listening on a unix socket only."""
    socket, binary = tmp_path / "redis.sock", find_redis_server()
    assert binary is not None
    command = [binary, "--port", "0", "--unixsocket", str(socket), "--save", ""]
    server = subprocess.Popen([*command, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    yield socket
    server.terminate()
    server.wait(10)


async def test_a_unix_socket_url_connects(unix_socket: Path) -> None:
    """TCP keep-alive is not offered to a unix socket connection (it would refuse it)."""
    redis = create_redis(Settings(redis_url=f"unix://{unix_socket}"))
    try:
        assert await check_redis(redis, within=5) is None
        assert await redis.set("k", "v")
        assert await redis.get("k") == "v"
    finally:
        await redis.aclose()
