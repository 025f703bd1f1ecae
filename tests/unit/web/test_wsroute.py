"""`/ws` goes straight to its endpoint; every other request to the app, as before."""

from __future__ import annotations

from typing import Any

from starlette.websockets import WebSocket

from backend.web.wsroute import DirectWebSockets


async def test_only_websockets_on_a_direct_path_skip_the_app() -> None:
    seen: list[tuple[str, str]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(("app", scope.get("path")))

    async def endpoint(websocket: WebSocket) -> None:
        seen.append(("endpoint", websocket.url.path))

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        return None

    direct = DirectWebSockets(app, {"/ws": endpoint})
    for kind, path in [("websocket", "/ws"), ("websocket", "/live"), ("http", "/ws")]:
        scope = {"type": kind, "path": path, "headers": [], "query_string": b""}
        await direct(scope, receive, send)
    await direct({"type": "lifespan"}, receive, send)
    assert seen == [("endpoint", "/ws"), ("app", "/live"), ("app", "/ws"), ("app", None)]
