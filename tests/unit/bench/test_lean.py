"""The bench's lean client reads server frames however the reads split them."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame, Opcode

from backend.bench.lean import LeanSocket

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example; its accept value below
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


class Wire:
    """The transport end of a LeanSocket: what it wrote, and whether it reads."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.reading = True
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def opened() -> tuple[LeanSocket, Wire]:
    socket, wire = LeanSocket(), Wire()
    socket.key = KEY
    socket.connection_made(wire)  # type: ignore[arg-type]
    socket.data_received(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + ACCEPT.encode() + b"\r\n\r\n"
    )
    return socket, wire


def server_frame(opcode: Opcode, data: bytes) -> bytes:
    return Frame(opcode, data).serialize(mask=False)


async def test_texts_of_every_length_split_anywhere() -> None:
    socket, _ = opened()
    texts = ["a", "é" * 100, "x" * 70_000]  # 7-, 16- and 64-bit lengths
    stream = b"".join(server_frame(Opcode.TEXT, text.encode()) for text in texts)
    for at in range(0, len(stream), 7):
        socket.data_received(stream[at : at + 7])
    assert [await socket.recv() for _ in texts] == texts


async def test_a_ping_is_answered_and_a_close_ends_it_with_its_code() -> None:
    socket, wire = opened()
    socket.data_received(server_frame(Opcode.PING, b"hb") + server_frame(Opcode.TEXT, b"last"))
    pong = wire.written[-1]
    assert pong[0] == 0x8A and pong[1] & 0x80  # a masked pong
    socket.data_received(server_frame(Opcode.CLOSE, Close(1013, "behind").serialize()))
    assert await socket.recv() == "last"
    with pytest.raises(ConnectionClosed) as closed:
        await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


async def test_an_unread_socket_stops_reading_until_read() -> None:
    socket, wire = opened()
    for index in range(20):
        socket.data_received(server_frame(Opcode.TEXT, str(index).encode()))
    assert not wire.reading
    for index in range(20):
        assert await asyncio.wait_for(socket.recv(), 1) == str(index)
    assert wire.reading


async def test_a_wrong_accept_is_refused() -> None:
    socket, wire = LeanSocket(), Wire()
    socket.connection_made(wire)  # type: ignore[arg-type]
    socket.data_received(b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: nope\r\n\r\n")
    with pytest.raises(Exception, match="Sec-WebSocket-Accept"):
        await socket.opened
    assert wire.closing
