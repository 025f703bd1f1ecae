"""A lean WebSocket client for the fan-out bench's members: the part of websockets' asyncio
client that the bench uses (`recv`, `send`, `close`, `response`, `transport`), reading the
server's frames in one loop per read of the socket.

websockets parses each frame with a generator and hands each message over through futures;
with hundreds of members per client process that is most of the bench's CPU, and the bench
ends up measuring its own client. Server frames are simple (never masked, never fragmented by
uvicorn, no compression asked for), so reading them takes a few lines; what the client sends
(joins, chats, pongs, the close) is framed by websockets itself. The same client drives every
system the fan-out compares.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections import deque
from urllib.parse import urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidHandshake
from websockets.frames import Close, Frame, Opcode

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, for Sec-WebSocket-Accept
QUEUE_HIGH, QUEUE_LOW = 16, 4  # messages unread: stop reading the socket, and read again
TEXT, CLOSE, PING = 0x1, 0x8, 0x9


class Handshake:
    """The server's answer to the upgrade request, as websockets' client keeps it."""

    def __init__(self, head: bytes, key: str) -> None:
        status, *lines = head.decode("latin-1").split("\r\n")
        if status.split(" ", 2)[1:2] != ["101"]:
            raise InvalidHandshake(f"the server answered {status!r}")
        self.headers = Headers()
        for line in lines:
            name, _, value = line.partition(":")
            self.headers[name.strip()] = value.strip()
        digest = hashlib.sha1((key + GUID).encode()).digest()
        if self.headers.get("Sec-WebSocket-Accept") != base64.b64encode(digest).decode():
            raise InvalidHandshake("wrong Sec-WebSocket-Accept")


class LeanSocket(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.texts: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.opened: asyncio.Future[Handshake] = asyncio.get_running_loop().create_future()
        self.key = base64.b64encode(secrets.token_bytes(16)).decode()
        self.closed: Close | None = None
        self.ended = False
        self.paused = False
        self.response: Handshake | None = None
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.response is None and not self._handshake():
            return
        buffer, at, end = self.buffer, 0, len(self.buffer)
        while end - at >= 2:
            length, head = buffer[at + 1] & 0x7F, 2
            if length == 126:
                length, head = int.from_bytes(buffer[at + 2 : at + 4]), 4
            elif length == 127:
                length, head = int.from_bytes(buffer[at + 2 : at + 10]), 10
            if end - at < head + length:
                break
            self._frame(buffer[at] & 0x0F, bytes(buffer[at + head : at + head + length]))
            at += head + length
        del buffer[:at]
        self._wake()

    def _handshake(self) -> bool:
        head, found, rest = self.buffer.partition(b"\r\n\r\n")
        if not found:
            return False
        try:
            self.response = Handshake(bytes(head), self.key)
        except InvalidHandshake as exc:
            self.opened.set_exception(exc)
            self.transport.close()
            return False
        self.buffer = bytearray(rest)
        self.opened.set_result(self.response)
        return True

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == TEXT:
            self.texts.append(payload.decode())
            if len(self.texts) >= QUEUE_HIGH and not self.paused:
                self.paused = True
                self.transport.pause_reading()
        elif opcode == PING:
            self.transport.write(Frame(Opcode.PONG, payload).serialize(mask=True))
        elif opcode == CLOSE:
            self.closed = Close.parse(payload) if payload else Close(1005, "")
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before the handshake"))
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done() and (self.texts or self.ended):
            self.waiter.set_result(None)

    async def recv(self) -> str:
        while not self.texts:
            if self.ended or self.closed is not None:
                raise ConnectionClosedError(self.closed, None)
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        if self.paused and len(self.texts) <= QUEUE_LOW:
            self.paused = False
            self.transport.resume_reading()
        return self.texts.popleft()

    async def send(self, text: str) -> None:
        if self.ended or self.transport.is_closing():
            raise ConnectionClosedError(self.closed, None)
        self.transport.write(Frame(Opcode.TEXT, text.encode()).serialize(mask=True))

    async def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(
                Frame(Opcode.CLOSE, Close(1000, "").serialize()).serialize(mask=True)
            )
            self.transport.close()


async def lean_connect(url: str) -> LeanSocket:
    """Opens `url` (ws://host:port/path) and returns once the server accepted the upgrade (a
    caller that gives up in between closes the connection)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    _, socket = await loop.create_connection(LeanSocket, host, port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {socket.key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    socket.transport.write(request.encode())
    try:
        await socket.opened
    except BaseException:
        socket.transport.close()
        raise
    return socket
