"""`/ws`: the JSON WebSocket endpoint, adapting Starlette's WebSocket to a ClientSession."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from backend.sessions.protocol import ErrorCode, ProtocolError, is_session_id, new_session_id
from backend.sessions.session import ClientSession, Disconnected, Transport
from backend.web.deps import AppState, app_state
from backend.web.origin import is_allowed_origin
from backend.web.wsprotocol import SEND_NOW

router = APIRouter()

CLOSE_POLICY = 1008
CLOSE_UNAVAILABLE = 1011


class StarletteTransport:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        extensions = websocket.scope.get("extensions") or {}
        self._send_now: Callable[[str], bool] | None = extensions.get(SEND_NOW)

    def send_now(self, data: str) -> bool:
        """One text frame written at once, where the server offers it (see wsprotocol)."""
        return self._send_now is not None and self._send_now(data)

    async def send_text(self, data: str) -> None:
        try:
            await self.websocket.send_text(data)
        except WebSocketDisconnect:
            raise Disconnected from None  # the client left (or was closed on): not a fault

    async def receive_text(self) -> str:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise Disconnected
        if message.get("text") is not None:
            return str(message["text"])
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, "binary frames are not supported; send JSON text"
        )

    async def close(self, code: int, reason: str) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            await self.websocket.close(code, reason)


async def ignore_incoming(websocket: WebSocket) -> None:
    """Reads (and ignores) what a page's push-only socket sends, text or binary, so a closed tab
    is noticed at once."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))


async def accept_if_allowed(websocket: WebSocket) -> AppState | None:
    """Accepts a socket whose Origin is allowed; refuses the handshake (HTTP 403) otherwise."""
    state = app_state(websocket)
    headers = websocket.headers
    allowed = state["settings"].allowed_origins
    if not is_allowed_origin(headers.get("origin"), headers.get("host"), allowed):
        await websocket.close(CLOSE_POLICY, "origin not allowed")
        return None
    await websocket.accept()
    return state


async def serve_session(
    websocket: WebSocket,
    state: AppState,
    transport: Transport,
    session_id: str | None = None,
    after: int = -1,
) -> None:
    """A session over `transport` until the client leaves (the pages' sockets): a fresh one, or
    `session_id` resumed after event `after`."""
    session_id = session_id or new_session_id()
    session = ClientSession(session_id, transport, state["services"])
    with contextlib.suppress(WebSocketDisconnect, Disconnected):
        await session.run(after=after)


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    """The JSON protocol (docs/protocol.md). `?session=S&after=N` resumes session S after seq N."""
    state = await accept_if_allowed(websocket)
    if state is None:
        return
    session_id, after, problem = _resume_params(websocket)
    if problem:
        await websocket.close(CLOSE_POLICY, problem)
        return
    services = state["services"]
    if not await services.hub.ready():
        await websocket.close(CLOSE_UNAVAILABLE, "Redis is unavailable; retry shortly")
        return
    session = ClientSession(session_id, StarletteTransport(websocket), services)
    with contextlib.suppress(WebSocketDisconnect, Disconnected):
        await session.run(after)


def _resume_params(websocket: WebSocket) -> tuple[str, int, str | None]:
    """A new session, or `session` (an id this server issued) resumed after seq `after`."""
    params = websocket.query_params
    session_id, raw_after = params.get("session"), params.get("after")
    if session_id is None:
        if raw_after is not None:
            return "", -1, "after resumes a session: give the session id too (?session=S&after=N)"
        return new_session_id(), -1, None
    if not is_session_id(session_id):
        return "", -1, "session must be an id this server issued (the welcome event's session)"
    if raw_after is None:
        return session_id, -1, None
    if not raw_after.isdigit() or len(raw_after) > 12:  # Lua prints larger numbers as 1e+14
        return session_id, -1, "after must be a non-negative integer below 10^12"
    return session_id, int(raw_after), None
