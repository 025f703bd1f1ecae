"""Chat rooms across two real web processes: history, presence, fan-out, limits, faults."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from backend.core.keys import Keys
from tests.conftest import Opener
from tests.processes import Stack
from tests.wsclient import Client

pytestmark = pytest.mark.cluster


@pytest.fixture
def webs(stack: Stack) -> tuple[str, str]:
    stack.settings.update(presence_timeout="2", chat_rate_limit="1000", chat_burst="1000")
    return stack.web(), stack.web()


async def join(client: Client, room: str, name: str) -> dict[str, Any]:
    await client.send({"type": "join", "room": room, "name": name, "ref": f"join-{name}"})
    return await client.until(lambda e: e["type"] == "history" and e["room"] == room)


def roster(client: Client, room: str = "lobby") -> list[str]:
    """The members as this client knows them: the full list it got on joining, then each
    `joined` and `left` after it."""
    members: set[str] = set()
    for event in client.events:
        if event.get("room") != room:
            continue
        if event["type"] == "presence":
            members = set(event["members"])
        elif event["type"] == "joined":
            members.update(event["names"])
        elif event["type"] == "left":
            members.difference_update(event["names"])
    return sorted(members)


async def presence(
    client: Client, members: list[str], room: str = "lobby", within: float = 10
) -> None:
    """Waits until the client's view of the room's members is `members`."""
    if roster(client, room) == members:
        return
    await client.until(lambda e: e.get("room") == room and roster(client, room) == members, within)


async def test_join_gives_history_and_everyone_presence(webs: tuple[str, str], ws: Opener) -> None:
    a, b = webs
    alice, bob = await ws(a), await ws(b)
    history = await join(alice, "lobby", "alice")
    assert history["messages"] == []
    await presence(alice, ["alice"])
    await join(bob, "lobby", "bob")
    await presence(bob, ["alice", "bob"])
    await presence(alice, ["alice", "bob"])


async def test_members_joining_at_once_all_see_everyone(webs: tuple[str, str], ws: Opener) -> None:
    """Joins racing on one web process: the later ones must not start before the room's
    subscription, which the first one asked for, is confirmed, or they miss `joined` events."""
    clients = [await ws(webs[index % 2]) for index in range(12)]
    names = sorted(f"m{index:02}" for index in range(12))
    for client, name in zip(clients, names, strict=True):
        await client.send({"type": "join", "room": "rush", "name": name})
    for client in clients:
        await presence(client, names, "rush")


async def test_chat_reaches_every_member_on_every_web_process(
    webs: tuple[str, str], ws: Opener
) -> None:
    a, b = webs
    alice, bob, carol = await ws(a), await ws(b), await ws(b)
    for client, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        await join(client, "lobby", name)
    await presence(alice, ["alice", "bob", "carol"])
    await alice.send({"type": "chat", "room": "lobby", "text": "hi all", "ref": "r3"})
    mine = await alice.until(lambda e: e["type"] == "chat")
    assert (mine["mine"], mine["ref"], mine["name"], mine["text"]) == (
        True,
        "r3",
        "alice",
        "hi all",
    )
    for other in (bob, carol):
        seen = await other.until(lambda e: e["type"] == "chat")
        assert {k: seen[k] for k in ("room", "id", "name", "text", "ts")} == {
            k: mine[k] for k in ("room", "id", "name", "text", "ts")
        }
        assert "mine" not in seen
    outsider = await ws(a)
    assert await outsider.quiet(0.3) == [], "no member, no message"


async def test_every_member_sees_the_same_order(webs: tuple[str, str], ws: Opener) -> None:
    a, b = webs
    alice, bob = await ws(a), await ws(b)
    await join(alice, "order", "alice")
    await join(bob, "order", "bob")
    await presence(alice, ["alice", "bob"], "order")
    for i in range(20):
        await alice.send({"type": "chat", "room": "order", "text": f"a{i}"})
        await bob.send({"type": "chat", "room": "order", "text": f"b{i}"})
    seen = []
    for client in (alice, bob):
        while len([e for e in client.events if e["type"] == "chat"]) < 40:
            await client.recv()
        seen.append([e["id"] for e in client.events if e["type"] == "chat"])
    assert seen[0] == seen[1]


async def test_history_keeps_the_last_50(webs: tuple[str, str], ws: Opener) -> None:
    a, _ = webs
    talker = await ws(a)
    await join(talker, "busy", "talker")
    for i in range(55):
        await talker.send({"type": "chat", "room": "busy", "text": f"message {i}"})
    await talker.until(lambda e: e.get("text") == "message 54")
    newcomer = await ws(a)
    history = await join(newcomer, "busy", "newcomer")
    assert [m["text"] for m in history["messages"]] == [f"message {i}" for i in range(5, 55)]


async def test_leave_and_closed_tab_update_presence(webs: tuple[str, str], ws: Opener) -> None:
    a, b = webs
    alice, bob, carol = await ws(a), await ws(b), await ws(b)
    for client, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        await join(client, "lobby", name)
    await presence(alice, ["alice", "bob", "carol"])
    await bob.send({"type": "leave", "room": "lobby"})
    await presence(alice, ["alice", "carol"])
    await presence(bob, ["alice", "carol"])
    await carol.close()
    await presence(alice, ["alice"])
    await alice.send({"type": "leave", "room": "lobby", "ref": "again"})
    await alice.until(lambda e: e["type"] == "left" and e["names"] == ["alice"])
    await alice.send({"type": "leave", "room": "lobby", "ref": "twice"})
    error = await alice.until(lambda e: e["type"] == "error")
    assert (error["code"], error["ref"]) == ("not_in_room", "twice")


@pytest.mark.slow
async def test_members_of_a_killed_web_process_expire(stack: Stack, ws: Opener) -> None:
    stack.settings.update(presence_timeout="2")
    a = stack.web()
    b = stack.web()
    alice, bob = await ws(a), await ws(b)
    await join(alice, "lobby", "alice")
    await join(bob, "lobby", "bob")
    await presence(alice, ["alice", "bob"])
    stack.roles[1].kill()  # bob's web process dies without a word
    await presence(alice, ["alice"])


async def test_rate_limit_on_chat(stack: Stack, ws: Opener) -> None:
    stack.settings.update(chat_rate_limit="2", chat_burst="3")
    client = await ws(stack.web())
    await join(client, "fast", "speedy")
    for i in range(6):
        await client.send({"type": "chat", "room": "fast", "text": f"m{i}", "ref": i})
    replies = [await client.until(lambda e, i=i: e.get("ref") == i) for i in range(6)]
    assert [r["type"] for r in replies[:3]] == ["chat"] * 3
    assert {r["code"] for r in replies[3:]} == {"rate_limited"}


@pytest.mark.parametrize(
    ("frame", "code", "detail"),
    [
        ({"type": "join", "room": "Lobby!", "name": "a"}, "invalid_message", "room: must be"),
        ({"type": "join", "room": "lobby", "name": ""}, "invalid_message", "name: must be"),
        ({"type": "join", "room": "lobby", "name": " x"}, "invalid_message", "name: must be"),
        ({"type": "join", "room": "lobby", "name": "n" * 25}, "invalid_message", "name: must be"),
        ({"type": "join", "room": "lobby"}, "invalid_message", "name: required (1-24"),
        ({"type": "chat", "room": "nowhere", "text": "hi"}, "not_in_room", "join room 'nowhere'"),
        ({"type": "chat", "room": "lobby", "text": 5}, "invalid_message", "text:"),
    ],
)
async def test_bad_room_requests(
    stack: Stack, ws: Opener, frame: dict[str, Any], code: str, detail: str
) -> None:
    client = await ws(stack.web())
    await client.send(frame)
    error = await client.until(lambda e: e["type"] == "error")
    assert error["code"] == code
    assert detail in error["detail"]


async def test_name_taken_empty_and_long_messages(stack: Stack, ws: Opener) -> None:
    stack.settings.update(chat_max_chars="10")
    base = stack.web()
    first, second = await ws(base), await ws(base)
    await join(first, "lobby", "alice")
    await second.send({"type": "join", "room": "lobby", "name": "alice", "ref": "dup"})
    assert (await second.until(lambda e: e["type"] == "error"))["code"] == "name_taken"
    await first.send({"type": "chat", "room": "lobby", "text": "   ", "ref": "empty"})
    await first.send({"type": "chat", "room": "lobby", "text": "x" * 11, "ref": "long"})
    assert (await first.until(lambda e: e.get("ref") == "empty"))["code"] == "invalid_message"
    assert (await first.until(lambda e: e.get("ref") == "long"))["code"] == "text_too_long"


async def test_markup_travels_as_data(stack: Stack, ws: Opener) -> None:
    client = await ws(stack.web())
    await join(client, "lobby", "mallory")
    await client.send({"type": "chat", "room": "lobby", "text": "<script>alert(1)</script>"})
    chat = await client.until(lambda e: e["type"] == "chat")
    assert chat["text"] == "<script>alert(1)</script>", "the protocol carries text; pages escape it"


async def test_a_member_swept_out_by_mistake_comes_back(
    webs: tuple[str, str], ws: Opener, redis: Redis
) -> None:
    a, b = webs
    alice, bob = await ws(a), await ws(b)
    await join(alice, "lobby", "alice")
    await join(bob, "lobby", "bob")
    await presence(alice, ["alice", "bob"])
    # As if bob's web process had stalled and another process's sweep had dropped him.
    room = Keys("courier:").room("lobby")
    before = len(alice.events)
    await redis.zrem(room.presence, bob.session)
    await redis.hdel(room.members, bob.session)
    await redis.hdel(room.names, "bob")
    back = {"type": "joined", "names": ["bob"]}
    await alice.until(lambda e: e in alice.events[before:] and back.items() <= e.items())
    assert roster(alice) == ["alice", "bob"]
    await bob.send({"type": "chat", "room": "lobby", "text": "back", "ref": "b"})
    reply = await bob.until(lambda e: e.get("ref") == "b")
    assert reply["type"] == "chat", reply


async def test_a_join_never_lets_the_next_reply_overtake_the_one_before(
    webs: tuple[str, str], ws: Opener
) -> None:
    """Answers keep the order of the frames, also around a join (whose answer is a room event)."""
    client = await ws(webs[0])
    for round_ in range(15):
        frames = [
            {"type": "join", "room": f"a{round_}", "name": "bob", "ref": f"j{round_}"},
            {"type": "send", "text": "x", "ref": f"s{round_}"},
            {"type": "join", "room": f"b{round_}", "name": "alice", "ref": f"k{round_}"},
            {"type": "ping", "ref": f"p{round_}"},
        ]
        for frame in frames:
            await client.send(frame)
        await client.until(lambda e, r=round_: e["type"] == "pong" and e["ref"] == f"p{r}")
        answers = [e["ref"] for e in client.events if e["type"] in ("accepted", "pong")]
        assert answers[-2:] == [f"s{round_}", f"p{round_}"], answers


async def test_a_refused_rejoin_keeps_the_member_in_the_room(
    webs: tuple[str, str], ws: Opener
) -> None:
    alice, bob = await ws(webs[0]), await ws(webs[0])
    await join(alice, "lobby", "alice")
    await join(bob, "lobby", "bob")
    await bob.send({"type": "join", "room": "lobby", "name": "alice", "ref": "again"})
    refused = await bob.until(lambda e: e.get("ref") == "again")
    assert refused["code"] == "name_taken"
    await bob.send({"type": "chat", "room": "lobby", "text": "still here", "ref": "c"})
    mine = await bob.until(lambda e: e["type"] == "chat" and e.get("ref") == "c")
    assert mine["text"] == "still here"
    await bob.send({"type": "leave", "room": "lobby", "ref": "bye"})
    await presence(alice, ["alice"])
