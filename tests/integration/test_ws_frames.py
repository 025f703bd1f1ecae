"""Frames a careless or hostile client may send: each gets exactly one answer (an `error`, or for
an oversized frame the documented close 1009), the log gets no traceback, and nothing is parsed
twice."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from collections.abc import Iterator

import pytest

from backend.procs.redis_server import RedisServer
from tests.conftest import Opener
from tests.processes import Stack


@pytest.fixture(scope="module")
def frames_stack(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = Stack(redis_server.url, tmp_path_factory.mktemp("frames"), {"key_prefix": "frames:"})
    stack.base = stack.web()  # type: ignore[attr-defined]
    yield stack
    stack.stop()


@pytest.fixture
def web(frames_stack: Stack) -> str:
    return str(frames_stack.base)  # type: ignore[attr-defined]


BAD_FRAMES = [
    ("[" * 1000 + "]" * 1000, "too_deep", ""),
    ('{"type":"ping","ref":' + "[" * 40 + "]" * 40 + "}", "too_deep", ""),
    ('{"type":"ping","ref":NaN}', "invalid_json", "NaN"),
    ('{"type":"ping","ref":Infinity}', "invalid_json", "Infinity"),
    ('{"type":"ping","ref":-Infinity}', "invalid_json", "Infinity"),
    ('{"ref":1}', "unknown_type", 'needs "type"'),
    ('{"type":"pong"}', "unknown_type", 'unknown type "pong"'),
    ('{"type":"ping","ref":[1]}', "invalid_message", "ref: must be a string"),
    ('{"type":"send","mode":"queue"}', "invalid_message", "text: required"),
    ('{"type":"ping","color":"red"}', "invalid_message", "not a field of a ping message"),
]


@pytest.mark.parametrize(("frame", "code", "says"), BAD_FRAMES)
async def test_every_bad_frame_gets_one_specific_error(
    ws: Opener, web: str, frame: str, code: str, says: str
) -> None:
    client = await ws(web)
    await client.send(frame)
    await client.send({"type": "ping", "ref": "after"})
    error, pong = await client.recv(), await client.recv()
    assert (error["type"], error["code"]) == ("error", code), error
    assert says in error["detail"]
    for internal in ("None", "constrained", "RecursionError", "Traceback"):
        assert internal not in error["detail"]
    assert (pong["type"], pong["ref"]) == ("pong", "after"), "the socket keeps serving"


async def test_a_burst_of_deep_frames_is_answered_without_tracebacks(
    ws: Opener, web: str, frames_stack: Stack
) -> None:
    client = await ws(web)
    deep = "[" * 1000 + "]" * 1000
    for _ in range(50):
        await client.send(deep)
    replies = [await client.recv() for _ in range(50)]
    assert {r["code"] for r in replies} == {"too_deep"}
    assert await client.quiet(0.3) == [], "exactly one reply per frame"
    log = frames_stack.roles[0].output()
    assert "Traceback" not in log
    assert "never retrieved" not in log


def _handshake(base: str, path: str = "/ws") -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )  # fmt: skip
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def _send_frame_and_read_close(base: str, size: int) -> bytes:
    """A plain socket, as a browser or a small client would be: the whole frame is written
    before anything is read."""
    sock = _handshake(base)
    try:
        header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", size) + b"\0\0\0\0"
        sock.sendall(header + b"x" * size)
        received = b""
        while (chunk := sock.recv(65536)) != b"":
            received += chunk
        return received
    finally:
        sock.close()


@pytest.mark.parametrize("size", [70_000, 1 << 20, 8 << 20])
async def test_an_oversized_frame_is_closed_with_1009_not_reset(web: str, size: int) -> None:
    received = await asyncio.to_thread(_send_frame_and_read_close, web, size)
    close = received[received.index(b"\x88") :]  # after the welcome text frame
    assert struct.unpack("!H", close[2:4])[0] == 1009
    assert b"exceeds limit" in close


SOCKETS = [
    "/ws",
    "/ui/ws/status",
    "/ui/ws/dashboard",
    "/ui/jobs/ws",
    "/ui/jobs/scheduled/ws",
    "/ui/chat/lobby/ws?name=ann",
    "/ui/lab/ws",
]


def _send_invalid_utf8(base: str, path: str) -> bytes:
    sock = _handshake(base, path)
    try:
        payload = b'{"type":"ping","ref":"\xff\xfe"}'
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
        received = b""
        while (chunk := sock.recv(65536)) != b"":
            received += chunk
        return received
    finally:
        sock.close()


@pytest.mark.parametrize("path", SOCKETS)
async def test_an_invalid_utf8_text_frame_is_closed_1007_with_one_warning(
    frames_stack: Stack, path: str
) -> None:
    base = str(frames_stack.base)  # type: ignore[attr-defined]
    received = await asyncio.to_thread(_send_invalid_utf8, base, path)
    close = received[received.rindex(b"\x88") :]
    assert struct.unpack("!H", close[2:4])[0] == 1007
    log = frames_stack.roles[0].output()
    assert "Traceback" not in log
    warned = [line for line in log.splitlines() if "not UTF-8" in line]
    assert warned and all(line.startswith("WARNING") for line in warned)
