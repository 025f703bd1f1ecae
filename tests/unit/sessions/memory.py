"""An in-memory client for ClientSession: a Transport whose frames are Python objects, and the
polling the tests wait with (a deadline, never a bare sleep)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from backend.sessions.services import Services
from backend.sessions.session import ClientSession, Disconnected

T = TypeVar("T")
WITHIN = 5.0


async def until(condition: Callable[[], T | None], within: float = WITHIN, what: str = "it") -> T:
    """Polls `condition` until it is truthy; fails naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.002)


class MemoryTransport:
    """The session's side of a fake socket: `frames` in, `sent` (decoded) out."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()  # None: the client hangs up
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send_text(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def receive_text(self) -> str:
        frame = await self.frames.get()
        if frame is None:
            raise Disconnected
        return frame

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


class FakeClient:
    """One connection: a ClientSession running over a MemoryTransport."""

    def __init__(self, services: Services, session_id: str, after: int = -1) -> None:
        self.id = session_id
        self.transport = MemoryTransport()
        self.session = ClientSession(session_id, self.transport, services)
        self.task = asyncio.create_task(self.session.run(after))
        self.read = 0  # events consumed by next()

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.transport.sent

    def send(self, message: dict[str, Any] | str) -> None:
        frame = message if isinstance(message, str) else json.dumps(message)
        self.transport.frames.put_nowait(frame)

    async def next(self, within: float = WITHIN) -> dict[str, Any]:
        """The next event this test has not looked at yet."""
        await until(lambda: len(self.events) > self.read, within, f"event #{self.read}")
        self.read += 1
        return self.events[self.read - 1]

    async def ask(self, message: dict[str, Any] | str) -> dict[str, Any]:
        self.send(message)
        return await self.next()

    async def wait_for(self, kind: str, **fields: object) -> dict[str, Any]:
        """The first event of type `kind` whose fields match; next() goes on after it."""

        def found() -> int | None:
            for index, event in enumerate(self.events):
                if event["type"] == kind and all(event.get(k) == v for k, v in fields.items()):
                    return index + 1
            return None

        end = await until(found, what=f"a {kind} event {fields}")
        self.read = max(self.read, end)
        return self.events[end - 1]

    async def hang_up(self) -> None:
        """The client closes; returns once the session has cleaned up."""
        self.transport.frames.put_nowait(None)
        await until(self.task.done, what="the session to end")
        self.task.result()  # re-raises anything the session died of


class ShiftedClock:
    """time.monotonic, plus however far a test moves it on."""

    def __init__(self) -> None:
        self.shift = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.shift
