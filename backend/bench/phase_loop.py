"""The event loop each phase runs in: cut off at the deadline, and stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

from backend.bench.messages import BenchError
from backend.bench.options import TIME_LIMIT
from backend.procs.role import event_loop_factory

T = TypeVar("T")


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
