"""One client's WebSocket session: reads its messages, and writes its events in `seq` order.

The session is transport-agnostic (the FastAPI route adapts a WebSocket to `Transport`). Events
reach it from the hub; the writer drops any it already sent (a replay and a live copy of the
same event can overlap), so the client sees each `seq` once and in increasing order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from redis.exceptions import RedisError

from backend.core.events import encode, event_seq
from backend.sessions.dispatcher import Dispatcher
from backend.sessions.parsing import decode, safe_ref, validate
from backend.sessions.protocol import PROTOCOL_VERSION, ErrorCode, ProtocolError
from backend.sessions.ratelimit import TokenBucket
from backend.sessions.services import Services

log = logging.getLogger("courier.session")

OUTBOX_MAX = 10_000
MAX_IN_FLIGHT = 64
CLOSE_TRY_AGAIN = 1013
CLOSE_SUPERSEDED = 4001


class Disconnected(Exception):
    """The client went away."""


class Transport(Protocol):
    async def send_text(self, data: str) -> None: ...

    async def receive_text(self) -> str:
        """The next text frame; raises Disconnected when the client is gone, ProtocolError for
        a frame that is not text."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


class ClientSession:
    def __init__(
        self,
        session_id: str,
        transport: Transport,
        services: Services,
    ) -> None:
        self.id = session_id
        self.transport = transport
        self.services = services
        self.hub = services.hub
        self.settings = settings = services.settings
        self.dispatcher = Dispatcher(session_id, services)
        self.last_seq = 0
        self.outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX_MAX)
        self.bucket = TokenBucket(settings.rate_limit, max(1.0, settings.rate_limit))
        self.closing: tuple[int, str] | None = None
        self.wake = asyncio.Event()

    # Sink (called by the hub) ------------------------------------------------------------------

    def deliver(self, event: str) -> None:
        try:
            self.outbox.put_nowait(event)
        except asyncio.QueueFull:
            # A client this far behind resumes from the log instead of holding memory here.
            self._close_soon(CLOSE_TRY_AGAIN, "too far behind; reconnect with after=<last seq>")

    def supersede(self) -> None:
        self._close_soon(CLOSE_SUPERSEDED, "session resumed on another connection")

    def _close_soon(self, code: int, reason: str) -> None:
        if self.closing is None:
            self.closing = (code, reason)
            self.wake.set()

    # Lifecycle ---------------------------------------------------------------------------------

    async def run(self, after: int) -> None:
        self.hub.register(self.id, self)
        try:
            await self._greet(after)
            await self._serve()
            if self.closing is not None:
                with contextlib.suppress(Exception):
                    await self.transport.close(*self.closing)
        finally:
            if self.hub.unregister(self.id, self):
                with contextlib.suppress(RedisError):
                    await self.services.rooms.leave_all(self.id)
                    await self.hub.events.detach(self.id, self.hub.instance)

    async def _serve(self) -> None:
        """Reads and writes until the client leaves, a send fails, or the session must close."""
        tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._write()),
            asyncio.create_task(self.wake.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, Disconnected | OSError):
                log.error("session %s ended by %r", self.id, result)

    async def _greet(self, after: int) -> None:
        cursor, missed = await self.hub.events.attach(self.id, self.hub.instance, after)
        self.last_seq = cursor
        welcome = {
            "type": "welcome",
            "seq": cursor,
            "session": self.id,
            "instance": self.hub.instance,
            "protocol": PROTOCOL_VERSION,
            "resumed": len(missed),
        }
        await self.transport.send_text(encode(welcome))
        for event in missed:
            await self._send(event)

    async def _write(self) -> None:
        while True:
            await self._send(await self.outbox.get())

    async def _send(self, event: str) -> None:
        seq = event_seq(event)
        if seq > self.last_seq:
            self.last_seq = seq
            await self.transport.send_text(event)

    async def _read(self) -> None:
        """Reads on while earlier messages wait for Redis, up to MAX_IN_FLIGHT at once. Each
        message queues its Redis call before its first await, and calls reach Redis in the order
        they are queued, so replies keep the order of the messages."""
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    frame: str | ProtocolError = await self.transport.receive_text()
                except ProtocolError as exc:
                    frame = exc
                if len(in_flight) >= MAX_IN_FLIGHT:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                task = asyncio.create_task(self._answer(frame))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        except Disconnected:
            pass
        finally:
            for task in in_flight:
                task.cancel()

    async def _answer(self, frame: str | ProtocolError) -> None:
        """Exactly one reply per frame: the frame's own events, or one `error`. Never raises,
        so no task ends with an exception nobody reads."""
        ref: object = None
        allowed = self.bucket.allow()  # every frame counts, parsable or not
        try:
            if isinstance(frame, ProtocolError):
                raise frame
            data = decode(frame)  # the one parse of this frame
            ref = safe_ref(data.get("ref"))
            if not allowed:
                raise self._rate_limited(ref)
            await self.dispatcher.serve(validate(data, ref))
        except ProtocolError as exc:
            await self._reply_quietly(exc if allowed else self._rate_limited(ref))
        except Exception:  # a bug must cost one error reply, never the session
            log.exception("session %s: failed to serve a message", self.id)
            detail = "the server failed to handle this message; it has been logged"
            await self._reply_quietly(ProtocolError(ErrorCode.INTERNAL, detail, ref))

    def _rate_limited(self, ref: object) -> ProtocolError:
        wait = self.bucket.retry_after()
        detail = f"more than {self.settings.rate_limit:g} messages/s; retry in {wait:.2f}s"
        return ProtocolError(ErrorCode.RATE_LIMITED, detail, ref)

    async def _reply_quietly(self, error: ProtocolError) -> None:
        """The socket may be gone by now; then there is nobody left to tell."""
        with contextlib.suppress(Disconnected, OSError, RuntimeError):
            await self.reply_error(error)

    # Messages ----------------------------------------------------------------------------------

    async def emit(self, event: dict[str, Any], logged: bool = True) -> None:
        await self.hub.events.emit(self.id, event, logged)

    async def reply_error(self, error: ProtocolError) -> None:
        event = {
            "type": "error",
            "ref": error.ref,
            "code": error.code.value,
            "detail": error.detail,
        }
        try:
            await self.emit(event, logged=False)
        except RedisError:
            # No Redis to number it: send it straight away under the last seq the client saw.
            await self.transport.send_text(encode({"seq": self.last_seq, **event}))
