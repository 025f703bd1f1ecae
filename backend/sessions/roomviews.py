"""What a joining member is told first: the room's history and member list as of its join.

Members who join a room together share one view of it (see `backend.core.rooms`), and so one
`history` and one `presence` event: each is encoded once per view, not once per member; with a
thousand names in the list, that encoding is most of what a join costs a web process.
"""

from __future__ import annotations

import json

from backend.core.events import encode
from backend.core.rooms import RoomView


def history_event(room: str, view: RoomView) -> str:
    said = view.said.get("history")
    if said is None:
        messages = [json.loads(event) for event in view.history]
        body = {"room": room, "offset": view.offset, "epoch": view.epoch, "type": "history"}
        said = view.said["history"] = encode({**body, "messages": messages})
    return said


def presence_event(room: str, view: RoomView, recovered: bool) -> str:
    kind = f"presence {recovered}"
    said = view.said.get(kind)
    if said is None:
        body = {"room": room, "offset": view.offset, "epoch": view.epoch, "type": "presence"}
        said = view.said[kind] = encode({**body, "members": view.names, "recovered": recovered})
    return said
