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

from backend.sessions.protocol import NAME_PATTERN, ROOM_PATTERN, RULES, ErrorCode
from backend.sessions.session import Transport
from backend.web.deps import ServicesDep
from backend.web.ws import CLOSE_POLICY, StarletteTransport, accept_if_allowed, serve_session
from frontend.pages import PAGE_METHODS
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


@router.api_route("/chat", methods=PAGE_METHODS, response_class=HTMLResponse)
async def chat_rooms(request: Request, services: ServicesDep) -> HTMLResponse:
    """The room picker: active rooms, or any room by name."""
    rooms = await services.hub.rooms.rooms.active()
    return templates.TemplateResponse(
        request, "chat_rooms.html", {"rooms": rooms, "rules": RULES, "active": "chat"}
    )


@router.api_route("/chat/go", methods=PAGE_METHODS, response_model=None)
async def chat_go(room: str = "", name: str = "") -> RedirectResponse:
    """The picker's form lands here, so a room has a plain shareable URL."""
    room = room.strip().lower() or "lobby"
    return RedirectResponse(f"/chat/{quote(room)}?{urlencode({'name': name})}", status_code=303)


@router.api_route("/chat/{room}", methods=PAGE_METHODS, response_class=HTMLResponse)
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
    event into the fragment that shows it.

    The page says "Live" only once the join succeeded (the room's history arrived). A refused
    join (the name is taken) turns the page into "Not joined" with a link to pick another name,
    and closes the socket with a code htmx does not reconnect after, so the page cannot join
    later behind the visitor's back."""

    def __init__(self, inner: Transport, room: str, name: str) -> None:
        self.inner = inner
        self.room = room
        self.name = name
        self.joined = False
        self.refused = False
        self.members: set[str] = set()

    async def receive_text(self) -> str:
        if not self.joined:
            self.joined = True
            return json.dumps({"type": "join", "room": self.room, "name": self.name})
        form = json.loads(await self.inner.receive_text())
        text = form.get("text", "") if isinstance(form, dict) else ""
        return json.dumps({"type": "chat", "room": self.room, "text": str(text)})

    async def send_text(self, data: str) -> None:
        if self.refused:
            return  # nothing more to show: the page says why it is not in the room
        event = json.loads(data)
        if event.get("type") == "error" and event.get("code") == ErrorCode.NAME_TAKEN:
            await self._refuse()
            return
        kind = str(event.get("type"))
        if kind in ("presence", "joined", "left"):  # the full list once, then each change
            event = {"members": self._present(event)}
            kind = "presence"
        template = FRAGMENTS.get(kind)
        if template is None:
            return
        html = render_fragment(template, event=event)
        if kind == "history":  # the join succeeded
            html += render_fragment("fragments/chat_connection.html", joined=True, oob=True)
        await self.inner.send_text(html)

    def _present(self, event: dict[str, Any]) -> list[str]:
        if event["type"] == "presence":
            self.members = set(event["members"])
        elif event["type"] == "joined":
            self.members.update(str(name) for name in event["names"])
        else:
            self.members.difference_update(str(name) for name in event["names"])
        return sorted(self.members)

    async def _refuse(self) -> None:
        self.refused = True
        context = {"room": self.room, "you": self.name, "taken": True}
        await self.inner.send_text(render_fragment("fragments/chat_taken.html", **context))
        await self.inner.close(CLOSE_POLICY, "name taken")

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
