"""uvicorn's WebSocket protocol, with a graceful close after a refused frame.

When a frame breaks the protocol (over the 64 KiB limit, say), uvicorn sends the close frame
(1009 for a frame too big) and closes the TCP connection at once. The client is usually still
sending that frame; unread bytes in a closed socket make the kernel answer with a reset, and a
reset can destroy the close frame before the client reads it. So here the server half-closes
instead, reads and drops what the client still sends, and closes once the client has closed too
(or after a few seconds, or a bounded number of bytes, for a client that never stops).
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

DRAIN_SECONDS = 5.0
DRAIN_BYTES = 64 * 1024 * 1024


class GracefulWebSocketProtocol(WebSocketsSansIOProtocol):
    draining = False
    drained = 0

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
