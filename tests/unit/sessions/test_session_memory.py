"""A closed connection's session is freed by reference counting, at once: nothing of it waits for
the cyclic collector, which an idle web process may not run for hours, and no room keeps it
(docs/operations.md, Memory per connection)."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from collections.abc import Iterator

import pytest

from backend.sessions.protocol import new_session_id
from backend.sessions.services import Services
from backend.sessions.session import ClientSession
from tests.unit.sessions.memory import MemoryTransport, until


@pytest.fixture
def no_cyclic_collector() -> Iterator[None]:
    """What is left for the cyclic collector stays in memory for the test to see."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def open_session(services: Services, session_id: str) -> tuple[MemoryTransport, asyncio.Task[None]]:
    transport = MemoryTransport()
    session = ClientSession(session_id, transport, services)
    return transport, asyncio.create_task(session.run(-1))


async def join_lobby(transport: MemoryTransport, name: str) -> None:
    for message in ({"type": "ping"}, {"type": "join", "room": "lobby", "name": name}):
        transport.frames.put_nowait(json.dumps(message))
    await until(lambda: any(e["type"] == "presence" for e in transport.sent), what="the join")


def session_of(task: asyncio.Task[None]) -> weakref.ref[ClientSession]:
    frame = task.get_coro().cr_frame  # type: ignore[union-attr]
    return weakref.ref(frame.f_locals["self"])


@pytest.mark.usefixtures("no_cyclic_collector")
async def test_a_session_the_client_closed_is_freed_at_once(services: Services) -> None:
    transport, task = open_session(services, new_session_id())
    await join_lobby(transport, "ann")
    session = session_of(task)
    transport.frames.put_nowait(None)  # the client hangs up
    await task
    del task
    assert session() is None, gc.get_referrers(session())
    assert not services.hub.rooms.members


@pytest.mark.usefixtures("no_cyclic_collector")
async def test_a_superseded_connection_is_freed_and_leaves_the_rooms_to_the_new_one(
    services: Services,
) -> None:
    session_id = new_session_id()
    first, first_task = open_session(services, session_id)
    await join_lobby(first, "ann")
    old = session_of(first_task)
    second, second_task = open_session(services, session_id)  # a resume: the first closes
    await first_task
    del first_task
    assert old() is None, gc.get_referrers(old())
    assert not services.hub.rooms.members  # the resumed connection has joined nothing yet
    await join_lobby(second, "ann")
    assert list(services.hub.rooms.members["lobby"]) == [session_id]
    second.frames.put_nowait(None)
    await second_task
