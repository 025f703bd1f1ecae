"""A server's text frame, built once for an event that goes to many sockets.

Server frames are not masked, and Courier's sockets do not compress (see `server`), so a room
event's frame is the same bytes on every member socket.
"""

from __future__ import annotations

from websockets.frames import Frame, Opcode


class FrameCache:
    """The last text framed: a room event goes to every member in one loop, so one entry
    frames it once per process (the text is the same object for every member)."""

    def __init__(self) -> None:
        self.text = ""
        self.frame = Frame(Opcode.TEXT, b"").serialize(mask=False)

    def text_frame(self, text: str) -> bytes:
        if text is not self.text:
            self.frame = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
            self.text = text
        return self.frame


text_frame = FrameCache().text_frame
