"""A room event goes straight to a socket that keeps up, and behind whatever the session has
queued otherwise, so a member's events keep their order either way."""

from __future__ import annotations

import asyncio
import json

from backend.sessions.services import Services
from backend.sessions.session import ClientSession
from tests.unit.sessions.memory import MemoryTransport, until


class WritableTransport(MemoryTransport):
    """Writes at once while `keeping_up`; a slow socket's sends wait for `drained`."""

    def __init__(self) -> None:
        super().__init__()
        self.keeping_up = True
        self.drained = asyncio.Event()
        self.drained.set()
        self.written_now = 0

    def send_now(self, data: str) -> bool:
        if not self.keeping_up:
            return False
        self.written_now += 1
        self.sent.append(json.loads(data))
        return True

    async def send_text(self, data: str) -> None:
        await self.drained.wait()
        await super().send_text(data)


def room_event(offset: int) -> str:
    return json.dumps({"type": "chat", "room": "lobby", "text": f"m{offset}", "offset": offset})


def texts(transport: MemoryTransport) -> list[str]:
    return [event["text"] for event in transport.sent if event["type"] == "chat"]


async def test_a_room_event_is_written_at_once_to_a_socket_that_keeps_up(
    services: Services,
) -> None:
    transport = WritableTransport()
    session = ClientSession("s" * 22, transport, services)
    for offset in range(3):
        session.deliver_room(room_event(offset))
    assert texts(transport) == ["m0", "m1", "m2"]
    assert transport.written_now == 3


async def test_one_that_falls_behind_gets_the_rest_in_order_behind_the_queue(
    services: Services,
) -> None:
    transport = WritableTransport()
    session = ClientSession("s" * 22, transport, services)
    writing = asyncio.create_task(session.writer.run())
    try:
        session.deliver_room(room_event(0))
        transport.keeping_up, transport.drained = False, asyncio.Event()  # its buffer is full
        session.deliver_room(room_event(1))
        await until(lambda: session.writer.sending, what="the writer to hold m1")
        transport.keeping_up = True  # writable again, but m1 is still on its way
        session.deliver_room(room_event(2))
        assert texts(transport) == ["m0"]
        transport.drained.set()
        await until(lambda: len(texts(transport)) == 3, what="m1 and m2")
        assert texts(transport) == ["m0", "m1", "m2"]
        assert transport.written_now == 1
        session.deliver_room(room_event(3))  # caught up: straight out again
        assert texts(transport)[-1] == "m3"
        assert transport.written_now == 2
    finally:
        writing.cancel()
        await asyncio.gather(writing, return_exceptions=True)
