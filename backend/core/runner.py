"""Running a registered task within its time limit: async tasks on the loop, cancelled at the
limit; sync tasks (`cpu=True` or not) in a killable process, killed at the limit. Shared by
workers (queue jobs) and subscribers (pub/sub messages)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from backend.core.sandbox import Overrun, Sandbox
from backend.core.tasks import Progress, TaskContext, TaskError, TaskRegistry, describe

MAX_PROCESSES = 32  # however high the concurrency, at most this many sync tasks run at once

T = TypeVar("T")


class TaskRunner:
    def __init__(self, registry: TaskRegistry, *, timeout: float, processes: int) -> None:
        """`timeout`: the limit of an attempt when neither the job nor its task sets one."""
        self.registry = registry
        self.timeout = timeout
        self.sandbox = Sandbox(max(1, min(processes, MAX_PROCESSES)))

    async def run(
        self,
        name: str,
        text: str,
        raw_args: dict[str, Any],
        context: TaskContext,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (a sync task is killed, not just left)
    ) -> Any:
        """The task's result; TaskError `timeout: ...` if it runs longer than `timeout` (the
        job's own), else the task's, else the runner's."""
        task = self.registry.get(name)
        if task is None:
            raise TaskError(f"unknown task {name!r} on this process")
        args = task.parse_args(raw_args)
        limit = next(t for t in (timeout, task.timeout, self.timeout) if t is not None)
        try:
            if task.run_async is not None:
                return await within(limit, task.run_async(context, text, args))
            assert task.run_sync is not None
            return await self.sandbox.run(task.run_sync, (text, args), limit)
        except Overrun:
            message = f"timeout: the attempt ran longer than {limit:g}s and was stopped"
            raise TaskError(message) from None

    def close(self) -> None:
        self.sandbox.close()


async def within(limit: float, work: Awaitable[T]) -> T:
    """`work`, cancelled at `limit` (Overrun); a TimeoutError the task raises itself stays one."""
    scope = asyncio.timeout(limit)
    try:
        async with scope:
            return await work
    except TimeoutError:
        if scope.expired():
            raise Overrun from None
        raise


async def no_progress(fraction: float) -> None:
    """For tasks run where nobody follows progress (pub/sub)."""


__all__ = ["Progress", "TaskRunner", "describe", "no_progress"]
