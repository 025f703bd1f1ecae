"""The processes sync tasks run in. A thread cannot be stopped, a process can: each process runs
one call at a time and is reused between calls, and one whose call overruns (or is cancelled) is
killed and replaced, without touching the calls running in the others.

Processes come from a forkserver, since forking a process that runs an event loop and threads is
unsafe. They start when first needed, at most `size` at once. The event loop never blocks on
them: it waits for a reply with `add_reader` on the call's pipe, so a time limit is plain asyncio.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from multiprocessing.util import Finalize
from typing import Any

from backend.core.tasks import TaskError, describe

CONTEXT = multiprocessing.get_context("forkserver")
READY = b"ready"
START_SECONDS = 30.0
REAP_SECONDS = 1.0

Reply = tuple[bool, Any]  # (True, result) or (False, the error in one line)


class Overrun(Exception):
    """A call ran past its time limit; its process was killed."""


class TaskProcess:
    """One child process and the parent's end of its pipe."""

    def __init__(self) -> None:
        """Blocks until the child is ready (it imports the parent's main module first), so a
        call's time limit counts the call alone."""
        self.conn, child_end = CONTEXT.Pipe()
        self.process = CONTEXT.Process(target=serve, args=(child_end,), name="courier-task")
        self.process.start()
        child_end.close()  # the child holds the only other end, so its death reads as EOF
        try:
            ready = self.conn.poll(START_SECONDS) and self.conn.recv_bytes() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.kill()
            raise TaskError("a process to run this task could not start")

    async def call(self, payload: bytes, limit: float) -> Reply:
        """The reply to one call; Overrun past `limit` seconds, TaskError if the process died."""
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        fd = self.conn.fileno()
        loop.add_reader(fd, wake)
        try:
            self.conn.send_bytes(payload)
            async with asyncio.timeout(limit):
                await readable
            reply: Reply = self.conn.recv()
            return reply
        except TimeoutError:
            raise Overrun from None
        except (EOFError, OSError):
            pass  # the process died: its pipe reads as EOF
        finally:
            loop.remove_reader(fd)
        raise TaskError(await self._obituary())

    async def _obituary(self) -> str:
        for _ in range(20):  # the exit code comes through the forkserver, a moment later
            if self.process.exitcode is not None:
                break
            await asyncio.sleep(0.01)
        code = self.process.exitcode
        how = f" (killed by signal {-code})" if code and code < 0 else f" (exit code {code})"
        return "the process running this task died" + (how if code is not None else "")

    def kill(self) -> None:
        if self.process.exitcode is None:
            self.process.kill()
        self.conn.close()


class Sandbox:
    """Up to `size` task processes: a call waits for a free one, the first calls start them."""

    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)
        self._idle: list[TaskProcess] = []
        self._busy: set[TaskProcess] = set()
        CONTEXT.set_forkserver_preload([__name__])  # each process starts with this imported
        # At interpreter exit multiprocessing joins its children; kill ours first so a process
        # never outlives the worker, even one whose close() was never called.
        Finalize(self, stop_all, (self._idle, self._busy), exitpriority=10)

    async def run(self, func: Callable[..., Any], args: tuple[Any, ...], limit: float) -> Any:
        """`func(*args)` in a process; Overrun (the process killed) past `limit` seconds."""
        payload = pickled(func, args)
        async with self._slots:
            child = await self._take()
            self._busy.add(child)
            try:
                ok, value = await child.call(payload, limit)
            except BaseException:  # overran, died, or the job was cancelled: stop it for real
                child.kill()
                raise
            finally:
                self._busy.discard(child)
            self._idle.append(child)
        if not ok:
            raise TaskError(value)
        return value

    async def _take(self) -> TaskProcess:
        while self._idle:
            child = self._idle.pop()
            # An idle process sends nothing: a readable pipe is the EOF of one that died, seen
            # before the forkserver reports its exit.
            if child.process.is_alive() and not child.conn.poll():
                return child
            child.kill()  # died while idle (out of memory, killed by hand)
        # Starting a process talks to the forkserver (and may start it): not on the loop.
        starting = asyncio.get_running_loop().run_in_executor(None, TaskProcess)
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            starting.add_done_callback(self._adopt)
            raise

    def _adopt(self, starting: asyncio.Future[TaskProcess]) -> None:
        """A process whose caller was cancelled while it started: kept for the next call."""
        if not starting.cancelled() and starting.exception() is None:
            self._idle.append(starting.result())

    @property
    def processes(self) -> int:
        return len(self._idle) + len(self._busy)

    def close(self) -> None:
        """Kills every process, busy or idle (called once the consumer has stopped)."""
        stop_all(self._idle, self._busy)


def stop_all(idle: list[TaskProcess], busy: set[TaskProcess]) -> None:
    children = [*idle, *busy]
    for child in idle:
        child.kill()
    for child in busy:  # its pipe stays open: the waiting call reads EOF and fails, then closes it
        child.process.kill()
    idle.clear()
    busy.clear()
    deadline = time.monotonic() + REAP_SECONDS
    for child in children:
        child.process.join(max(0.0, deadline - time.monotonic()))


def pickled(func: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
    try:
        return bytes(ForkingPickler.dumps((func, args)))
    except Exception as exc:
        raise TaskError(
            f"this sync task cannot be sent to a process (it must be a module-level function "
            f"with module-level argument types): {describe(exc)}"
        ) from None


# In the child --------------------------------------------------------------------------------


def serve(conn: Connection) -> None:
    """A task process's life: run each call the parent sends, until its pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C hits the whole group; the worker decides
    threading.Thread(target=follow_parent, name="courier-follow", daemon=True).start()
    conn.send_bytes(READY)
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        reply = answer(payload)
        try:
            conn.send(reply)
        except OSError:
            return
        except Exception as exc:  # the result does not pickle; nothing was written yet
            conn.send((False, f"the task's result cannot be sent back: {describe(exc)}"))


def answer(payload: bytes) -> Reply:
    try:
        func, args = ForkingPickler.loads(payload)
        return True, func(*args)
    except Exception as exc:
        return False, describe(exc)


def follow_parent() -> None:
    """Ends this process once the worker is gone, even killed mid-task. Not a death signal: our
    parent is the forkserver, which lives as long as any of its children does."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        wait([parent.sentinel])  # the worker holds the other end of this pipe
        os._exit(1)
