"""uvicorn's WebSocket protocol, with a graceful close after a refused frame, and the frames of
one event-loop turn leaving in one write.

When a frame breaks the protocol (over the 64 KiB limit, say), uvicorn sends the close frame
(1009 for a frame too big) and closes the TCP connection at once. The client is usually still
sending that frame; unread bytes in a closed socket make the kernel answer with a reset, and a
reset can destroy the close frame before the client reads it. So here the server half-closes
instead, reads and drops what the client still sends, and closes once the client has closed too
(or after a few seconds, or a bounded number of bytes, for a client that never stops).

A text frame that is not valid UTF-8 is closed with 1007, as uvicorn does, but logged as one
warning line: uvicorn logs a traceback for it, and any client can send one. After either close,
a write of the app (a welcome still on its way) is a disconnect, as once uvicorn has closed the
socket, not an error with a traceback.

uvicorn writes each frame to the socket at once: one system call per event, which is most of a
web process's CPU when a room fans out. A session's writer sends every event it has queued in
one go, so writes made in the same loop turn are joined and sent together at its end (in order,
pings and closes included): the same bytes, in far fewer system calls, a loop turn later.

A room's event goes to every member socket of the process: it is framed once (`frames`) and
the same bytes are written straight to each socket that is keeping up (`send_now`, offered to
the app as the scope extension SEND_NOW), skipping the ASGI send path for each member. A socket
that is behind, or whose session has other events queued, gets it the usual way.

Every open socket holds one protocol object, so what it keeps is kept ten thousand times over:
the queue of what the client sent is a list and one future (`Inbox`), not an asyncio.Queue, the
handshake's response is let go once sent, the HTTP protocol that hands the connection over is
freed then and there, and nothing is left in a reference cycle when the socket closes
(docs/operations.md, Memory per connection).
"""

from __future__ import annotations

import asyncio
import socket
from asyncio import BaseTransport, Transport
from typing import Any, Generic, TypeVar

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from backend.web.frames import text_frame

DRAIN_SECONDS = 5.0
DRAIN_BYTES = 64 * 1024 * 1024
UNREAD_CLOSE_SECONDS = 10.0
CLOSE_INVALID_DATA = 1007
SEND_NOW = "courier.send_now"  # scope extension: write one text frame now, or say it cannot

T = TypeVar("T")


class Inbox(Generic[T]):
    """The part of asyncio.Queue that uvicorn's protocol uses, for one reader (the app's
    `receive`, as ASGI has it): an asyncio.Queue holds four deques, about 3 KB a socket."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self.waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: T) -> None:
        self.items.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> T:
        if self.waiter is not None:
            raise RuntimeError("one reader at a time")
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.pop(0)

    def empty(self) -> bool:
        return not self.items


class CoalescingTransport:
    """A transport whose writes in one loop turn leave as one write at its end."""

    def __init__(self, transport: Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.pending:
            self.loop.call_soon(self.flush)
        self.pending.append(bytes(data))

    def flush(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            self.pending.clear()
            if not self.transport.is_closing():
                self.transport.write(data)

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self.pending.clear()
        self.transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class UpgradingHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol (httptools, its default), freed when it hands a WebSocket over.

    Its parser calls back into it, a cycle that uvicorn breaks when the connection is lost, which
    an upgraded connection never tells it. Left to the cyclic collector, the protocols of a burst
    of handshakes reach its oldest generation, and each keeps its transport and a scatter of
    memory blocks alive until a full collection: after 10,000 sockets closed, 90 MB more.
    """

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        self.parser = None  # type: ignore[assignment]  # as in uvicorn's connection_lost


class GracefulWebSocketProtocol(WebSocketsSansIOProtocol):
    draining = False
    drained = 0
    abort_timer: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]

    def connection_made(self, transport: BaseTransport) -> None:
        """COURIER_SEND_BUFFER_BYTES caps the kernel memory a client that stops reading can
        hold (Linux lets a socket's send buffer grow to 4 MB by default)."""
        size = getattr(self.app_state.get("settings"), "send_buffer_bytes", None)
        sock = transport.get_extra_info("socket")
        if size is not None and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        coalescing = CoalescingTransport(transport, self.loop)  # type: ignore[arg-type]
        super().connection_made(coalescing)  # type: ignore[arg-type]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        self.scope["extensions"][SEND_NOW] = self.send_now  # type: ignore[assignment]

    def send_now(self, text: str) -> bool:
        """Writes `text` as one frame at once, when nothing stands in the way: the handshake
        done, the connection open both ways, its transport not paused by flow control, no
        compression. False: nothing was written; send it the usual way."""
        if (
            self.conn.state is not State.OPEN
            or not self.handshake_complete
            or self.close_sent
            or self.draining
            or not self.writable.is_set()
            or self.conn.extensions
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(text_frame(text))
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.abort_timer is not None:
            self.abort_timer.cancel()
        scope = getattr(self, "scope", None)
        if scope is not None:  # the scope's reference to this protocol: a cycle
            scope["extensions"].pop(SEND_NOW, None)
        super().connection_lost(exc)
        # websockets parses with a generator that refers to its connection: a cycle that only a
        # full collection frees, and a socket that closes leaves it suspended. Closed, the
        # connection's buffers are freed with it.
        self.conn.parser.close()

    def handle_parser_exception(self) -> None:
        close = self.conn.close_sent
        assert close is not None
        self.queue.put_nowait(
            {"type": "websocket.disconnect", "code": close.code, "reason": close.reason}
        )
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.draining = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.close_timer = self.loop.call_later(DRAIN_SECONDS, self.transport.close)

    async def send(self, message: ASGISendEvent) -> None:
        """Once a refused frame has closed the connection, the app's next write is told so as a
        disconnect, as when uvicorn has closed the socket, not by an error with a traceback.

        A close sent to a client that does not read (its buffers full, so writes wait for it)
        would wait for ever: it goes behind what is buffered, without waiting, and the
        connection is dropped if the client has not read up to it UNREAD_CLOSE_SECONDS later."""
        if self.draining:
            raise ClientDisconnected
        if message["type"] == "websocket.close" and not self.writable.is_set():
            self.writable.set()  # nothing is sent after the close: flow control is over
            self.abort_timer = self.loop.call_later(UNREAD_CLOSE_SECONDS, self.transport.abort)
        await super().send(message)
        if self.handshake_complete and self.response is not None:
            self.response = None  # type: ignore[assignment]  # sent: never read again

    def send_receive_event_to_app(self) -> None:
        """uvicorn's, but an invalid text frame is logged as a warning, without a traceback."""
        if self.curr_msg_data_type != "text" or self.close_sent:
            super().send_receive_event_to_app()
            return
        data = b"".join(self.frames)
        self.frames = []
        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            where = "{}:{} - ".format(*self.client) if self.client else ""
            self.logger.warning("%sWebSocket closed (1007): text frame not UTF-8, %s", where, exc)
            self.conn.send_close(CLOSE_INVALID_DATA, "text frame is not valid UTF-8")
            self.handle_parser_exception()
            return
        self.queue.put_nowait({"type": "websocket.receive", "text": text})
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        if not self.draining:
            super().data_received(data)
            return
        self.drained += len(data)
        if self.drained > DRAIN_BYTES:
            self.transport.abort()

    def eof_received(self) -> None:
        """The client closed its side: nothing is left unread, so the close is clean."""
        if self.draining:
            self.transport.close()
