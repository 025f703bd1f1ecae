"""The bench's side of `/ws`: connections, the frames it sends and the events that end a job."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from backend.bench.figures import Problems
from backend.bench.messages import BenchError


def _text(ref: int) -> str:
    return f"hello {ref}"


def _job_frame(ref: int) -> str:
    message = {"type": "send", "mode": "queue", "task": "uppercase", "text": _text(ref)}
    return json.dumps({**message, "ref": ref}, separators=(",", ":"))


def ending(event: dict[str, Any]) -> tuple[object, str | None] | None:
    """(ref, problem or None) when the event ends a job: a result (checked), an error, or a
    final failure; None for any other event."""
    kind, ref = event.get("type"), event.get("ref")
    if kind == "result":
        expected = _text(ref).upper() if isinstance(ref, int) else None
        if event.get("result") == expected:
            return ref, None
        return ref, f"job {ref!r}: result {event.get('result')!r}, expected {expected!r}"
    if kind == "error":
        return ref, f"job {ref!r}: error {event.get('code')}: {event.get('detail')}"
    if kind == "failed" and event.get("final"):
        return ref, f"job {ref!r}: failed for good: {event.get('error')}"
    return None


class Client:
    """One `/ws` connection that checks every event's `seq` is higher than the last."""

    def __init__(self, socket: ClientConnection, problems: Problems) -> None:
        self.socket = socket
        self.problems = problems
        self.seq = -1

    async def welcome(self) -> str:
        """Waits for `welcome`; returns the WebSocket extensions the server agreed to."""
        event = await self.receive()
        if event.get("type") != "welcome":
            raise BenchError(f"expected a welcome event first, got {event!r}")
        response = self.socket.response
        extensions = response.headers.get("Sec-WebSocket-Extensions") if response else None
        return extensions or "none"

    async def receive(self) -> dict[str, Any]:
        event = json.loads(await self.socket.recv())
        if not isinstance(event, dict):
            raise BenchError(f"an event that is not a JSON object: {event!r}")
        seq = event.get("seq")
        if isinstance(seq, int) and seq > self.seq:
            self.seq = seq
        else:
            self.problems.add(f"event {event.get('type')!r} has seq {seq!r} after {self.seq}")
        return event

    async def send_job(self, ref: int) -> None:
        await self.socket.send(_job_frame(ref))

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message, separators=(",", ":")))


@contextlib.asynccontextmanager
async def connections(urls: Sequence[str], count: int) -> AsyncIterator[list[ClientConnection]]:
    """`count` open connections, the i-th to `urls[i % len(urls)]` (an even split over several
    web processes), closed together on the way out. The close timeout is short: a phase cut off
    at the time limit leaves unread frames that hold up a clean close."""
    sockets: list[ClientConnection] = []
    try:
        for index in range(count):
            url = urls[index % len(urls)]
            sockets.append(await connect(url, open_timeout=10, close_timeout=1))
        yield sockets
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
