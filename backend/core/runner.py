"""Running a registered task the way its kind needs: async on the loop, sync in a thread,
CPU-bound in a process pool. Shared by workers (queue jobs) and subscribers (pub/sub messages)."""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from backend.core.tasks import Progress, TaskContext, TaskError, TaskRegistry

PROCESS_POOL_SIZE = 2


class TaskRunner:
    def __init__(self, registry: TaskRegistry) -> None:
        self.registry = registry
        self._pool: ProcessPoolExecutor | None = None

    async def run(
        self, name: str, text: str, raw_args: dict[str, Any], context: TaskContext
    ) -> Any:
        task = self.registry.get(name)
        if task is None:
            raise TaskError(f"unknown task {name!r} on this process")
        args = task.parse_args(raw_args)
        if task.run_async is not None:
            return await task.run_async(context, text, args)
        assert task.run_sync is not None
        if task.cpu:
            return await self._in_process(task.run_sync, text, args)
        return await asyncio.to_thread(task.run_sync, text, args)

    async def _in_process(self, func: Any, text: str, args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._process_pool(), func, text, args)
        except BrokenProcessPool:
            # A pool process died (killed, out of memory): start a fresh pool for the next
            # job, and fail this attempt so the queue retries it.
            self.close()
            self._pool = None
            raise TaskError("the process running this task died; it will be retried") from None

    def _process_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: forking a process that runs an event loop and threads is unsafe.
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=PROCESS_POOL_SIZE, mp_context=context)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


async def no_progress(fraction: float) -> None:
    """For tasks run where nobody follows progress (pub/sub)."""


def describe(exc: BaseException) -> str:
    """What went wrong, in one line: the message for TaskError, else type, message and place."""
    if isinstance(exc, TaskError):
        return str(exc)
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


__all__ = ["Progress", "TaskRunner", "describe", "no_progress"]
