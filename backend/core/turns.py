"""A message's place in its session's order of replies (see `Turn`)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Turn:
    """A message's place in its session's order of replies. A reply goes into the script
    pipeline only after the previous message's reply did, so replies keep the order of the
    messages even when one takes two steps (a job is stored, then `accepted` is told)."""

    def __init__(self, previous: asyncio.Future[None] | None) -> None:
        self.id = secrets.token_hex(8)  # names the reply in the session's log
        self.previous = previous
        self.mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(self, sending: Coroutine[Any, Any, T]) -> T:
        """Runs `sending` once the previous reply is queued; the next may go once this one is.
        A task's first step runs before the wake-ups `release` schedules, so the order holds."""
        if self.previous is not None:
            await asyncio.shield(self.previous)
        task = asyncio.ensure_future(sending)
        self.release()
        return await task

    def release(self) -> None:
        """The next message's reply may go, but never before this one's predecessor's did: a
        message whose reply does not go through `send` (a room join) must not let the next
        overtake the one before it."""
        if self.mine.done():
            return
        if self.previous is None or self.previous.done():
            self.mine.set_result(None)
        else:
            self.previous.add_done_callback(lambda _: self.release())


class TurnOrder:
    """Hands out turns in the order messages are read."""

    def __init__(self) -> None:
        self.last: asyncio.Future[None] | None = None

    def next(self) -> Turn:
        turn = Turn(self.last)
        self.last = turn.mine
        return turn
