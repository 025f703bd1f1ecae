"""The browser's live socket: pushes HTML fragments (htmx out-of-band swaps) as things change."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from backend.core.stats import SystemStatus, read_status
from backend.web.ws import accept_if_allowed, ignore_incoming
from frontend.templating import render_fragment

router = APIRouter(include_in_schema=False)
log = logging.getLogger("courier.live")

STATUS_EVERY = 1.0


@router.websocket("/ui/ws/status")
async def status_socket(websocket: WebSocket) -> None:
    """Sends the status fragment on connect and again whenever it changes."""
    state = await accept_if_allowed(websocket)
    if state is None:
        return
    settings = state["settings"]
    last = ""
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(ignore_incoming(websocket))
            while websocket.application_state is WebSocketState.CONNECTED:
                status = await read_status(
                    state["redis"], state["keys"], settings.heartbeat_timeout
                )
                html = render_status(status)
                if html != last:
                    await websocket.send_text(html)
                    last = html
                await asyncio.sleep(STATUS_EVERY)
    except* (WebSocketDisconnect, RuntimeError, OSError):
        log.debug("status socket closed")


def render_status(status: SystemStatus) -> str:
    """The status card and both lanes' consumer chips, each swapped in by id."""
    return "".join(
        [
            render_fragment("fragments/status.html", status=status, oob=True),
            render_fragment(
                "fragments/lab_consumers.html",
                kind="worker",
                title="Workers",
                consumers=status.workers,
                depth=status.depth,
                in_flight=status.in_flight,
                oob=True,
            ),
            render_fragment(
                "fragments/lab_consumers.html",
                kind="subscriber",
                title="Subscribers",
                consumers=status.subscribers,
                oob=True,
            ),
        ]
    )
