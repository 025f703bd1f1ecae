"""EventHub: routing events to the local session that holds them, superseding, and catching up
after its pub/sub connection drops, with real sessions on the real redis-server."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from backend.core.events import SessionEvents, encode
from backend.core.keys import Keys
from backend.core.scripts.sessions import EMIT_ONE
from backend.sessions.hub import EventHub
from backend.sessions.services import Services
from backend.settings import Settings
from tests.unit.sessions.conftest import Connect, StartServices
from tests.unit.sessions.memory import FakeClient, until


def notes(client: FakeClient) -> list[tuple[int, object]]:
    return [(e["seq"], e["n"]) for e in client.events if e["type"] == "note"]


async def test_each_session_gets_only_its_own_events(
    services: Services, connect: Connect, redis: Redis, keys: Keys, settings: Settings
) -> None:
    a, b = connect(services), connect(services)
    await a.next()
    await b.next()
    worker_side = SessionEvents(redis, keys, settings)
    for session, n in [(a.id, "a1"), (b.id, "b1"), (a.id, "a2"), (b.id, "end"), (a.id, "end")]:
        await worker_side.emit(session, {"type": "note", "n": n})
    # One channel, in order: once each has its "end", a stray event would have arrived too.
    await a.wait_for("note", n="end")
    await b.wait_for("note", n="end")
    assert notes(a) == [(1, "a1"), (2, "a2"), (3, "end")]
    assert notes(b) == [(1, "b1"), (2, "end")]


async def test_events_go_to_the_hub_holding_the_session(
    start_services: StartServices, connect: Connect, redis: Redis, keys: Keys, settings: Settings
) -> None:
    one, two = await start_services(), await start_services()
    a, b = connect(one), connect(two)
    assert (await a.next())["instance"] != (await b.next())["instance"]
    worker_side = SessionEvents(redis, keys, settings)
    await worker_side.emit(b.id, {"type": "note", "n": "b"})
    await worker_side.emit(a.id, {"type": "note", "n": "a"})
    await a.wait_for("note")
    await b.wait_for("note")
    assert (notes(a), notes(b)) == ([(1, "a")], [(1, "b")])


async def test_a_second_connection_supersedes_the_first(
    services: Services, connect: Connect, redis: Redis, keys: Keys, settings: Settings
) -> None:
    first = connect(services)
    await first.next()
    second = connect(services, first.id, after=0)
    await second.next()
    await until(first.task.done, what="the superseded session to end")
    assert first.transport.closed == (4001, "session resumed on another connection")
    assert services.hub.sinks[first.id] is second.session
    # The first one's clean-up left the route alone: the second holds it.
    assert await redis.get(keys.session(first.id).route) == services.hub.instance
    await SessionEvents(redis, keys, settings).emit(first.id, {"type": "note", "n": 1})
    await second.wait_for("note", n=1)
    assert (await second.ask({"type": "ping"}))["seq"] == 2
    assert [e["type"] for e in first.events] == ["welcome"]


class StubSink:
    def __init__(self) -> None:
        self.last_seq = 0
        self.superseded = 0

    def deliver(self, event: str) -> None:
        raise AssertionError(f"nothing should be delivered here: {event}")

    def supersede(self) -> None:
        self.superseded += 1


async def test_only_the_current_sink_unregisters(
    redis: Redis, keys: Keys, settings: Settings
) -> None:
    hub = EventHub(redis, keys, settings)
    old, new = StubSink(), StubSink()
    hub.register("s", old)
    hub.register("s", old)  # the same sink again is no takeover
    assert old.superseded == 0
    hub.register("s", new)
    assert (old.superseded, new.superseded) == (1, 0)
    assert hub.unregister("s", old) is False
    assert hub.sinks["s"] is new
    assert hub.unregister("s", new) is True
    assert "s" not in hub.sinks
    assert hub.unregister("s", new) is False


async def emit_while_cut_off(
    redis: Redis, services: Services, emits: Sequence[tuple[str, object]]
) -> int:
    """Kills the hub's pub/sub connection, then emits (the EMIT_ONE script SessionEvents.emit
    runs), all in one MULTI: no event can reach the hub live. Returns the channel's listeners
    right after, which must be 0."""
    channel = services.hub.keys.instance(services.hub.instance)
    events, keys = services.hub.events, services.hub.keys
    async with redis.pipeline(transaction=True) as pipe:
        pipe.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        for session, n in emits:
            body = encode({"type": "note", "n": n})
            owned = keys.session(session).emit
            pipe.eval(EMIT_ONE, len(owned), *owned, *events.head, session, "", body, "1")
        pipe.pubsub_numsub(channel)
        replies = await pipe.execute()
    assert replies[0] >= 1, "no pub/sub connection was killed"
    return int(replies[-1][0][1])


async def test_events_missed_while_the_hub_was_cut_off_arrive_once_in_order(
    services: Services, connect: Connect, redis: Redis, keys: Keys, settings: Settings
) -> None:
    a, b = connect(services), connect(services)
    await a.next()
    await b.next()
    worker_side = SessionEvents(redis, keys, settings)
    await worker_side.emit(a.id, {"type": "note", "n": "before"})
    await a.wait_for("note", n="before")

    emits = [(client.id, n) for n in range(3) for client in (a, b)]
    assert await emit_while_cut_off(redis, services, emits) == 0

    for client in (a, b):
        await client.wait_for("note", n=2)  # caught up once the hub subscribed again
        await worker_side.emit(client.id, {"type": "note", "n": "live"})
        await client.wait_for("note", n="live")
    assert notes(a) == [(1, "before"), (2, 0), (3, 1), (4, 2), (5, "live")]
    assert notes(b) == [(1, 0), (2, 1), (3, 2), (4, "live")]
    assert services.hub.listener.subscribed.is_set()
