"""`/ws` served straight from the server, beside FastAPI rather than through it.

A WebSocket's handshake request stays in flight for the socket's whole life, so every layer it
went through stays suspended in every open socket: FastAPI's and Starlette's middleware, the
router, the route and its exit stacks, about 12 KB a socket. The protocol socket needs none of
them (no dependency injection, no HTTP middleware applies to it), so the server hands it to the
endpoint directly and everything else to the app. The route stays registered in the app too,
so an app served without this (a test client, another server) still has it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

Endpoint = Callable[[WebSocket], Awaitable[None]]


class DirectWebSockets:
    def __init__(self, app: ASGIApp, routes: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            endpoint = self.routes.get(scope["path"])
            if endpoint is not None:
                await endpoint(WebSocket(scope, receive, send))
                return
        await self.app(scope, receive, send)
