"""Chat pages and the chat socket: the JSON session protocol, rendered as htmx fragments.

The browser's socket speaks htmx: forms arrive as JSON fields, and HTML fragments go back with
out-of-band swap targets. Underneath it is an ordinary ClientSession, so chat in the page and
chat over `/ws` are one and the same: this module only translates at the edges.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, RedirectResponse

from backend.sessions.protocol import NAME_PATTERN, ROOM_PATTERN, RULES
from backend.sessions.session import Transport
from backend.web.deps import ServicesDep
from backend.web.ws import CLOSE_POLICY, StarletteTransport, accept_if_allowed, serve_session
from frontend.templating import render_fragment, templates

router = APIRouter(include_in_schema=False)

_room = re.compile(ROOM_PATTERN)
_name = re.compile(NAME_PATTERN)
FRAGMENTS = {
    "history": "fragments/chat_history.html",
    "presence": "fragments/chat_presence.html",
    "chat": "fragments/chat_append.html",
    "error": "fragments/chat_error.html",
}


@router.get("/chat", response_class=HTMLResponse)
async def chat_rooms(request: Request, services: ServicesDep) -> HTMLResponse:
    """The room picker: active rooms, or any room by name."""
    rooms = await services.rooms.active()
    return templates.TemplateResponse(
        request, "chat_rooms.html", {"rooms": rooms, "rules": RULES, "active": "chat"}
    )


@router.get("/chat/go", response_model=None)
async def chat_go(room: str = "", name: str = "") -> RedirectResponse:
    """The picker's form lands here, so a room has a plain shareable URL."""
    room = room.strip().lower() or "lobby"
    return RedirectResponse(f"/chat/{quote(room)}?{urlencode({'name': name})}", status_code=303)


@router.get("/chat/{room}", response_class=HTMLResponse)
async def chat_room(request: Request, room: str, name: str = "") -> HTMLResponse:
    """The room itself once the visitor has a valid name; else the name form, with the reason."""
    context: dict[str, Any] = {"room": room, "name": name.strip(), "rules": RULES, "active": "chat"}
    if not _room.match(room):
        context["problem"] = f"Room names are {RULES['room']}."
        return templates.TemplateResponse(request, "chat_rooms.html", context, status_code=404)
    if not _name.match(context["name"]):
        context["problem"] = f"Names are {RULES['name']}." if name else None
        return templates.TemplateResponse(request, "chat_join.html", context)
    return templates.TemplateResponse(request, "chat_room.html", context)


class HtmlChatTransport:
    """Joins the room first, turns each submitted form into a chat message, and each session
    event into the fragment that shows it."""

    def __init__(self, inner: Transport, room: str, name: str) -> None:
        self.inner = inner
        self.room = room
        self.name = name
        self.joined = False

    async def receive_text(self) -> str:
        if not self.joined:
            self.joined = True
            return json.dumps({"type": "join", "room": self.room, "name": self.name})
        form = json.loads(await self.inner.receive_text())
        text = form.get("text", "") if isinstance(form, dict) else ""
        return json.dumps({"type": "chat", "room": self.room, "text": str(text)})

    async def send_text(self, data: str) -> None:
        event = json.loads(data)
        template = FRAGMENTS.get(str(event.get("type")))
        if template is not None:
            await self.inner.send_text(render_fragment(template, event=event))

    async def close(self, code: int, reason: str) -> None:
        await self.inner.close(code, reason)


@router.websocket("/ui/chat/{room}/ws")
async def chat_socket(websocket: WebSocket, room: str, name: str = "") -> None:
    state = await accept_if_allowed(websocket)
    if state is None:
        return
    if not (_room.match(room) and _name.match(name.strip())):
        await websocket.close(CLOSE_POLICY, "bad room or name")
        return
    transport = HtmlChatTransport(StarletteTransport(websocket), room, name.strip())
    await serve_session(websocket, state, transport)
