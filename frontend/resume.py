"""Pages that pick up where they left off: a page keeps one session id across reconnects, and
the server remembers in Redis the last event it rendered to that page.

When the socket drops (a network blip, a web process restart), htmx reconnects to the same URL;
the new connection resumes the session after the remembered event, so every event the page
missed is rendered, in order, on whichever web process it reaches.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from fastapi import WebSocket
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.sessions.protocol import is_session_id, new_session_id
from backend.sessions.session import Transport
from backend.web.deps import AppState
from backend.web.ws import StarletteTransport, accept_if_allowed, serve_session


def new_page_session() -> str:
    return new_session_id()


async def page_cursor(websocket: WebSocket, state: AppState) -> tuple[str, int]:
    """The page's session id (a new one if it sent none) and the seq to resume after."""
    session = websocket.query_params.get("session", "")
    if not is_session_id(session):
        return new_page_session(), -1
    try:
        seen = await state["redis"].get(state["keys"].session(session).rendered)
    except RedisError:
        seen = None
    return session, int(seen) if seen is not None and str(seen).isdigit() else -1


class CursorKeeper:
    """Wraps a page transport and records each rendered event's seq."""

    def __init__(self, inner: Transport, redis: Redis, key: str, ttl: int) -> None:
        self.inner = inner
        self.redis = redis
        self.key = key
        self.ttl = ttl

    async def send_text(self, data: str) -> None:
        await self.inner.send_text(data)
        seq = json.loads(data).get("seq")
        if isinstance(seq, int):
            # If this fails the page still works; a reconnect would only replay a little more.
            with contextlib.suppress(RedisError):
                await self.redis.set(self.key, seq, ex=self.ttl)

    async def receive_text(self) -> str:
        return await self.inner.receive_text()

    async def close(self, code: int, reason: str) -> None:
        await self.inner.close(code, reason)


async def serve_page_session(
    websocket: WebSocket, page: Callable[[Transport, AppState], Transport]
) -> None:
    """A page's socket: the Origin check, the page's session resumed after the last event it
    rendered, and `page(socket, state)` translating between the page's HTML and the protocol."""
    state = await accept_if_allowed(websocket)
    if state is None:
        return
    session, after = await page_cursor(websocket, state)
    key = state["keys"].session(session).rendered
    rendered = page(StarletteTransport(websocket), state)
    transport = CursorKeeper(rendered, state["redis"], key, state["settings"].session_ttl)
    await serve_session(websocket, state, transport, session, after)
