"""A session's messages to one room reach Redis in the order the client sent them.

A socket's messages are served concurrently (replies wait their turn, see `core.turns`), so
two chats read back to back could otherwise overtake each other on their way to Redis: one
waiting a loop turn longer (behind a join, say) is enough for the next to be stored first and
the room's history to show them swapped. Each message takes its place in the line as it
arrives, before any await, and goes on when the one ahead of it is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class InOrder:
    def __init__(self) -> None:
        self.last: dict[tuple[str, str], asyncio.Future[None]] = {}  # (room, session) -> tail

    @asynccontextmanager
    async def turn(self, room: str, session: str) -> AsyncIterator[None]:
        """The body runs once every earlier message of `session` to `room` has finished
        (done, failed or cancelled alike)."""
        key = (room, session)
        ahead = self.last.get(key)
        done = self.last[key] = asyncio.get_running_loop().create_future()
        try:
            if ahead is not None and not ahead.done():
                await asyncio.shield(ahead)
            yield
        finally:
            if ahead is None or ahead.done():
                _finish(self.last, key, done)
            else:  # cancelled while waiting: the next still goes after the one ahead
                ahead.add_done_callback(lambda _: _finish(self.last, key, done))


def _finish(
    last: dict[tuple[str, str], asyncio.Future[None]],
    key: tuple[str, str],
    done: asyncio.Future[None],
) -> None:
    done.set_result(None)
    if last.get(key) is done:
        del last[key]
