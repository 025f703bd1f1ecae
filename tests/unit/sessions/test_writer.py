"""The socket writer's ordering: session events go out by seq, a gap is filled from the log in
one read, and what was never logged is skipped rather than waited for."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from backend.sessions.writer import GAP_WAIT, OUTBOX_MAX, EventWriter, Overflow
from tests.unit.sessions.memory import until


def event(seq: int) -> str:
    return f'{{"seq":{seq},"type":"pong"}}'


class Socket:
    def __init__(self, log: dict[int, str]) -> None:
        self.log = log
        self.sent: list[int] = []
        self.reads = 0

    async def send(self, text: str) -> None:
        self.sent.append(int(text[7 : text.index(",")]))

    async def read_log(self, after: int) -> list[str]:
        self.reads += 1
        return [text for seq, text in sorted(self.log.items()) if seq > after]


async def run_for(writer: EventWriter, seconds: float) -> None:
    task = asyncio.create_task(writer.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_events_that_come_early_wait_for_the_ones_before_them() -> None:
    socket = Socket({})
    writer = EventWriter(socket.send, socket.read_log)
    for seq in (2, 3, 1, 4):
        writer.put(event(seq))
    await run_for(writer, 0.05)
    assert socket.sent == [1, 2, 3, 4]
    assert socket.reads == 0


async def test_a_long_gap_is_filled_from_the_log_in_one_read() -> None:
    socket = Socket({seq: event(seq) for seq in range(2, 60)})
    writer = EventWriter(socket.send, socket.read_log, last_seq=1)
    writer.put(event(60))
    await run_for(writer, GAP_WAIT * 2.5)
    assert socket.sent == list(range(2, 61))
    assert socket.reads == 1


async def test_what_was_never_logged_is_skipped() -> None:
    socket = Socket({3: event(3)})  # 2 was a reply on a connection that closed
    writer = EventWriter(socket.send, socket.read_log, last_seq=1)
    writer.put(event(4))
    await run_for(writer, GAP_WAIT * 2.5)
    assert socket.sent == [3, 4]


async def test_a_replayed_copy_is_sent_once() -> None:
    socket = Socket({})
    writer = EventWriter(socket.send, socket.read_log)
    for seq in (1, 2, 1, 2, 3):
        writer.put(event(seq))
    await run_for(writer, 0.05)
    assert socket.sent == [1, 2, 3]


async def test_the_outbox_holds_at_most_its_bound_while_a_send_is_stuck() -> None:
    stuck = asyncio.Event()

    async def send(text: str) -> None:
        await stuck.wait()  # a client that reads nothing

    writer = EventWriter(send, Socket({}).read_log)
    writer.put(event(1))
    writer.put(event(2))
    task = asyncio.create_task(writer.run())
    await until(lambda: writer.sending, what="the first send")
    for seq in range(3, OUTBOX_MAX + 1):  # the two being sent count
        writer.put(event(seq))
    with pytest.raises(Overflow):
        writer.put(event(OUTBOX_MAX + 1))
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
