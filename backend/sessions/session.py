"""One client's WebSocket session: reads its messages, and writes its events in `seq` order.

The session is transport-agnostic (the FastAPI route adapts a WebSocket to `Transport`). Events
reach it from the hub; the writer drops any it already sent (a replay and a live copy of the
same event can overlap), so the client sees each `seq` once and in increasing order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from redis.exceptions import RedisError

from backend.core import job_events
from backend.core.events import encode
from backend.core.turns import Turn, TurnOrder
from backend.sessions.dispatcher import Dispatcher
from backend.sessions.parsing import decode, safe_ref, validate
from backend.sessions.protocol import PROTOCOL_VERSION, ErrorCode, ProtocolError
from backend.sessions.ratelimit import TokenBucket
from backend.sessions.services import Services
from backend.sessions.writer import EventWriter, Overflow

log = logging.getLogger("courier.session")

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
    def __init__(self, session_id: str, transport: Transport, services: Services) -> None:
        self.id = session_id
        self.transport = transport
        self.services = services
        self.hub = services.hub
        self.settings = settings = services.settings
        self.dispatcher = Dispatcher(session_id, services, self)
        # The log read through the hub, not a method of this session: no cycle (see `run`).
        since = partial(self.hub.events.since, session_id)
        self.writer = EventWriter(transport.send_text, since, limit=services.settings.outbox_max)
        self.send_now: Callable[[str], bool] | None = getattr(transport, "send_now", None)
        self.bucket = TokenBucket(settings.rate_limit, max(1.0, settings.rate_limit))
        self.closing: tuple[int, str] | None = None
        self.superseded = False
        self.turns = TurnOrder()
        self.wake = asyncio.Event()
        # Jobs of this session not yet told their end, by when this process first saw them:
        # the hub sends an end that the worker could not (see EventHub.recover).
        self.inflight: dict[str, float] = {}
        # Messages read and not yet answered: they are answered (into the log, for a resume)
        # even when the client has gone, so no message that reached us goes without a reply.
        self.answering: set[asyncio.Task[None]] = set()

    @property
    def last_seq(self) -> int:
        return self.writer.last_seq

    # Sink (called by the hub) ------------------------------------------------------------------

    def deliver(self, event: str) -> None:
        """A session event (numbered)."""
        job = job_events.job_of(event)
        if job is not None:
            job_id, final = job
            if final:
                self.inflight.pop(job_id, None)
            else:
                self.inflight.setdefault(job_id, time.monotonic())
        self._put(event)

    def deliver_room(self, event: str) -> None:
        """A room event: written at once if the socket keeps up and nothing waits before it."""
        if self.send_now is not None and self.writer.idle and self.send_now(event):
            return
        self._put(event)

    def _put(self, event: str) -> None:
        try:
            self.writer.put(event)
        except Overflow:
            # A client this far behind resumes from the log instead of holding memory here.
            self._close_soon(CLOSE_TRY_AGAIN, "too far behind; reconnect with after=<last seq>")

    def supersede(self) -> None:
        """The session was resumed on a newer connection (here or on another web process):
        this one closes and leaves the session's rooms and route to it."""
        self.superseded = True
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
            if self.hub.unregister(self.id, self) and not self.superseded:
                with contextlib.suppress(RedisError):
                    await self.hub.rooms.leave_all(self.id)
                    await self.hub.events.detach(self.id, self.hub.instance)
            self.hub.rooms.drop(self.id, self)
            # The dispatcher and the session refer to each other: a cycle, freed only by a full
            # collection (an idle process may run none for hours). Broken, the socket's memory
            # is freed as soon as it closes.
            del self.dispatcher

    async def _serve(self) -> None:
        """Reads and writes until the client leaves, a send fails, or the session must close."""
        tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self.writer.run()),
            asyncio.create_task(self.wake.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            await self._finish_answers()
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, Disconnected | OSError):
                log.error("session %s ended by %r", self.id, result)

    async def _greet(self, after: int) -> None:
        cursor, missed, inflight = await self.hub.attach(self.id, after)
        self.writer.last_seq = cursor
        self.inflight = dict.fromkeys(inflight, 0.0)  # unknown age: checked on the next round
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
            await self.writer.write(event)

    async def _read(self) -> None:
        """Reads on while earlier messages wait for Redis, up to MAX_IN_FLIGHT at once. Each
        message takes a turn as it is read, and its reply waits for the previous message's, so
        replies keep the order of the messages (see `events.Turn`)."""
        in_flight = self.answering
        try:
            while True:
                try:
                    frame: str | ProtocolError = await self.transport.receive_text()
                except ProtocolError as exc:
                    frame = exc
                if len(in_flight) >= MAX_IN_FLIGHT:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                task = asyncio.create_task(self._answer(frame, self.turns.next()))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        except Disconnected:
            pass

    async def _finish_answers(self) -> None:
        """Waits for the answers still on their way (Redis may be coming back: at most
        COURIER_OUTCOME_WAIT and a little), then gives up on what is left."""
        if not self.answering:
            return
        _, late = await asyncio.wait(self.answering, timeout=self.settings.outcome_wait + 5)
        for task in late:
            task.cancel()

    async def _answer(self, frame: str | ProtocolError, turn: Turn) -> None:
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
            await self.dispatcher.serve(validate(data, ref), turn)
        except ProtocolError as exc:
            await self._reply_quietly(exc if allowed else self._rate_limited(ref), turn)
        except Exception:  # a bug must cost one error reply, never the session
            log.exception("session %s: failed to serve a message", self.id)
            detail = "the server failed to handle this message; it has been logged"
            await self._reply_quietly(ProtocolError(ErrorCode.INTERNAL, detail, ref), turn)
        finally:
            turn.release()

    def _rate_limited(self, ref: object) -> ProtocolError:
        wait = self.bucket.retry_after()
        detail = f"more than {self.settings.rate_limit:g} messages/s; retry in {wait:.2f}s"
        return ProtocolError(ErrorCode.RATE_LIMITED, detail, ref)

    async def _reply_quietly(self, error: ProtocolError, turn: Turn) -> None:
        """The socket may be gone by now; then there is nobody left to tell."""
        with contextlib.suppress(Disconnected, OSError, RuntimeError):
            await self.reply_error(error, turn)

    # Messages ----------------------------------------------------------------------------------

    async def reply_error(self, error: ProtocolError, turn: Turn) -> None:
        """Numbered and logged like every reply, so a client that missed it while reconnecting
        gets it on resume. With no Redis to number it, it goes out in order under the last seq
        the client saw (and is not replayed)."""
        event: dict[str, Any] = {
            "type": "error",
            "ref": error.ref,
            "code": error.code.value,
            "detail": error.detail,
        }
        if error.job_id is not None:
            event["id"] = error.job_id
        wait = self.settings.outcome_wait
        try:
            await turn.send(self.hub.events.reply(self.id, turn.id, event, patience=wait))
        except (RedisError, OSError):
            self._put(encode({**event, "seq": self.last_seq}))
