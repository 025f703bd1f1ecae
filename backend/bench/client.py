"""The bench's side of `/ws`, and the event loop each phase runs in.

Each phase gets its own short event loop, cut off at the bench's deadline and cancelled by
SIGTERM, so processes can be watched and CPU time read between phases, outside any loop.
Progress and the error that ends a run go to stderr, so stdout holds the report alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from types import FrameType
from typing import Any, TypeVar

from backend.bench.figures import Problems
from backend.bench.options import TIME_LIMIT
from backend.bench.sockets import BenchSocket, open_all
from backend.procs.role import event_loop_factory

T = TypeVar("T")


class BenchError(RuntimeError):
    """The bench could not run to the end; the message says where and why."""


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds the report alone (valid JSON with --json)."""
    print(f"courier bench: {message}", file=sys.stderr, flush=True)


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
    """One `/ws` connection that checks every session event's `seq` is higher than the last,
    and that each room's events never go back in `offset` (a room numbers its own)."""

    def __init__(self, socket: BenchSocket, problems: Problems) -> None:
        self.socket = socket
        self.problems = problems
        self.seq = -1
        self.offsets: dict[str, int] = {}

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
        if "seq" not in event and "offset" in event:
            self._room_event(event)
            return event
        seq = event.get("seq")
        if isinstance(seq, int) and seq > self.seq:
            self.seq = seq
        else:
            self.problems.add(f"event {event.get('type')!r} has seq {seq!r} after {self.seq}")
        return event

    def _room_event(self, event: dict[str, Any]) -> None:
        room, offset = str(event.get("room")), event.get("offset")
        last = self.offsets.get(room, -1)
        if isinstance(offset, int) and offset >= last:  # history shares the offset it ends at
            self.offsets[room] = offset
        else:
            kind = event.get("type")
            self.problems.add(f"room event {kind!r} has offset {offset!r} after {last}")

    async def send_job(self, ref: int) -> None:
        await self.socket.send(_job_frame(ref))

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message, separators=(",", ":")))


@contextlib.asynccontextmanager
async def connections(
    urls: Sequence[str], count: int, lean: bool = False
) -> AsyncIterator[list[BenchSocket]]:
    """`count` open connections, the i-th to `urls[i % len(urls)]` (an even split over several
    web processes), closed together on the way out. The close timeout is short: a phase cut off
    at the time limit leaves unread frames that hold up a clean close."""
    sockets: list[BenchSocket] = []
    try:
        await open_all([urls[index % len(urls)] for index in range(count)], sockets, lean)
        yield sockets
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)


class SigtermHandler:
    """SIGTERM stops the bench as Ctrl-C does: outside a phase it raises KeyboardInterrupt, in
    one it cancels the phase, since an exception raised inside an event loop callback would be
    taken for a failed connection instead of stopping the run."""

    def __init__(self) -> None:
        self.phase: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self.received = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received = True
        if self.phase is None:
            raise KeyboardInterrupt
        loop, task = self.phase
        task.cancel()
        loop.call_soon_threadsafe(lambda: None)  # wakes the loop, as asyncio does for Ctrl-C


_sigterm = SigtermHandler()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM stops the run as Ctrl-C does; the previous handler comes back."""
    _sigterm.received = False
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_phase(coroutine: Coroutine[Any, Any, T], deadline: float, what: str) -> T:
    """Runs one phase in its own event loop, cut off at the bench's deadline."""
    # uvloop, like the processes measured: the cheaper the client, the less it skews them.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        try:
            return runner.run(_bounded(coroutine, deadline))
        except TimeoutError:
            raise BenchError(f"stopped at the {TIME_LIMIT:g}s limit during {what}") from None
        except OSError as exc:
            raise BenchError(f"{what}: connection failed: {exc}") from None
        except asyncio.CancelledError:
            if _sigterm.received:
                raise KeyboardInterrupt from None
            raise


async def _bounded(coroutine: Coroutine[Any, Any, T], deadline: float) -> T:
    """The phase as a task SIGTERM can cancel, with a timeout at the deadline."""
    task = asyncio.current_task()
    assert task is not None
    _sigterm.phase = (asyncio.get_running_loop(), task)
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            return await coroutine
    finally:
        _sigterm.phase = None


@contextlib.asynccontextmanager
async def task_group() -> AsyncIterator[asyncio.TaskGroup]:
    """A TaskGroup whose first failure comes out on its own, not inside an ExceptionGroup, so
    `run_phase` can report it: as is when it is a BenchError or an OSError, else as a
    BenchError (a connection the server closed, say)."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except ExceptionGroup as failed:
        first = failed.exceptions[0]
        if isinstance(first, BenchError | OSError):
            raise first from None
        raise BenchError(repr(first)) from None
