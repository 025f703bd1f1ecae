"""FastAPI + encode/broadcaster chat in the pattern of broadcaster's README example: per socket,
one task publishes what the socket sends (one PUBLISH per message) while the other forwards
what the process's subscription brings, as is; each web process fans out in memory.

Around that loop, just enough of Courier's chat protocol that `courier bench fanout`'s own
client and checks drive it unchanged: a `welcome` on connect; on `join`, a `history` event
(always empty: broadcaster keeps none) and presence, counted in Redis, so that the member who
fills the room (PEER_ROOM_SIZE members) publishes the full list once every member is
subscribed; a chat message goes out with the room's running offset, and the sender's own copy
comes back with `mine` and its `ref`. Nothing of this runs per delivery for the other members.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from broadcaster import Broadcast
from fastapi import FastAPI, WebSocket
from redis.asyncio import BlockingConnectionPool, Redis

URL = os.environ.get("PEER_REDIS_URL", "redis://")
ROOM_SIZE = int(os.environ.get("PEER_ROOM_SIZE", "2"))
PACKAGES = ("broadcaster", "redis", "hiredis", "fastapi", "uvicorn", "websockets")

broadcast = Broadcast(URL)
# The presence count is this adapter's, not broadcaster's: its connections are capped (callers
# wait for one), so 5,000 members joining a web process at once do not open 5,000 connections
# and run Redis out of clients.
presence = Redis(connection_pool=BlockingConnectionPool.from_url(URL, max_connections=32))
offsets = itertools.count(1)  # one sender: its web process numbers the room's messages


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await broadcast.connect()
    yield
    await broadcast.disconnect()
    await presence.aclose()


app = FastAPI(lifespan=lifespan)


@app.get("/ready")
async def ready() -> dict[str, bool]:
    return {"ready": True}


@app.websocket("/ws")
async def chatroom_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text('{"type":"welcome","seq":0}')
    join = json.loads(await websocket.receive_text())
    room, name = str(join["room"]), str(join["name"])
    own: dict[str, int] = {}  # this socket's messages on their way, to its copies' refs
    async with broadcast.subscribe(channel=room) as subscriber:
        history = {"type": "history", "room": room, "messages": [], "seq": 1}
        await websocket.send_text(json.dumps(history))
        await _arrive(room, name)
        async with anyio.create_task_group() as task_group:

            async def run_chatroom_ws_receiver() -> None:
                await chatroom_ws_receiver(websocket, room, name, own)
                task_group.cancel_scope.cancel()

            task_group.start_soon(run_chatroom_ws_receiver)
            async for event in subscriber:
                if own and (ref := own.pop(event.message, None)) is not None:
                    await websocket.send_text(f'{event.message[:-1]},"mine":true,"ref":{ref}}}')
                else:
                    await websocket.send_text(event.message)


async def chatroom_ws_receiver(
    websocket: WebSocket, room: str, name: str, own: dict[str, int]
) -> None:
    async for message in websocket.iter_text():
        frame = json.loads(message)
        chat = {"type": "chat", "room": room, "name": name, "text": frame["text"]}
        event = json.dumps({**chat, "offset": next(offsets)})
        own[event] = frame["ref"]
        await broadcast.publish(channel=room, message=event)


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else member


async def _arrive(room: str, name: str) -> None:
    """Counted once subscribed: the member that makes the count ROOM_SIZE publishes presence,
    and every member, being subscribed already, gets it."""
    key = f"room:{room}:members"
    async with presence.pipeline(transaction=True) as pipe:
        pipe.sadd(key, name)
        pipe.scard(key)
        _, count = await pipe.execute()
    if count == ROOM_SIZE:
        members = sorted(_text(member) for member in await presence.smembers(key))
        full = {"type": "presence", "room": room, "members": members, "offset": 0}
        await broadcast.publish(channel=room, message=json.dumps(full))
