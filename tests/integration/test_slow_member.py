"""A member that stops reading costs the others nothing: they get every message, in order, while
its socket fills up; once its outbox is full it is closed with 1013 and leaves the room."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Opener
from tests.processes import Stack
from tests.wsclient import Client

ROOM = "slow"
OUTBOX = 50
TEXT = "x" * 1900  # near the chat limit: the non-reader's buffers fill in fewer messages
SMALL_BUFFER = 16 * 1024  # COURIER_SEND_BUFFER_BYTES: the kernel then holds 32 KB, not 4 MB
MOST = 6000  # messages sent at most (11 MB), waiting for the non-reader to be closed


@pytest.fixture(params=[None, SMALL_BUFFER], ids=["kernel-sized", "send-buffer-16k"])
def web(stack: Stack, request: pytest.FixtureRequest) -> str:
    lifted = {"rate_limit": "100000", "chat_rate_limit": "100000", "chat_burst": "100000"}
    stack.settings.update(outbox_max=str(OUTBOX), **lifted)
    if request.param is not None:
        stack.settings["send_buffer_bytes"] = str(request.param)
    return stack.web()


async def non_reader(base: str) -> ClientConnection:
    """Joins, then never reads again: the client library stops reading the socket after one
    unread message, and the kernel's buffers (a few MB on loopback) fill up."""
    url = base.replace("http://", "ws://") + "/ws"
    connection = await connect(url, max_queue=1, max_size=None)
    await connection.recv()  # welcome
    await connection.send(json.dumps({"type": "join", "room": ROOM, "name": "sloth"}))
    while json.loads(await connection.recv())["type"] != "presence":
        pass
    return connection


async def join(client: Client, name: str) -> None:
    await client.send({"type": "join", "room": ROOM, "name": name})
    await client.until(lambda e: e["type"] == "presence" and e["room"] == ROOM)


def web_id(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.id)


def texts(client: Client) -> list[str]:
    return [e["text"] for e in client.events if e["type"] == "chat"]


async def test_a_member_that_never_reads_is_closed_and_the_others_get_everything(
    web: str, ws: Opener, request: pytest.FixtureRequest
) -> None:
    readers = [await ws(web) for _ in range(3)]
    for index, reader in enumerate(readers):
        await join(reader, f"reader{index}")
    sloth = await non_reader(web)
    sender, others = readers[0], readers[1:]
    sent = 0
    while sent < MOST and not any(e["type"] == "left" for e in others[0].events):
        for _ in range(50):
            await sender.send({"type": "chat", "room": ROOM, "text": f"{sent} {TEXT}"})
            sent += 1
        last = f"{sent - 1} {TEXT}"
        for reader in readers:  # every reader keeps up, so the window is the server's alone
            await reader.until(lambda e, t=last: e.get("text") == t)
    left = await others[0].until(lambda e: e["type"] == "left")
    if "send-buffer" in web_id(request):  # far less held in the kernel for it
        assert sent <= 1000, sent
    assert left["names"] == ["sloth"], left
    expected = [f"{i} {TEXT}" for i in range(sent)]
    for reader in readers:
        assert texts(reader) == expected
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await sloth.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013, closed.value
    assert "behind" in closed.value.rcvd.reason
