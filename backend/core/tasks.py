"""The task registry: named functions that workers (and subscribers) run on a message.

A task gets the message text and its validated arguments and returns any JSON value. Async tasks
run on the worker's event loop; sync tasks run in a process of their own (see `sandbox`), so a
CPU-heavy task never stalls heartbeats or other jobs and one that overruns can be killed. Users
add tasks in their own module, named by `COURIER_TASKS`, with the same `@task` decorator as the
built-ins.
"""

from __future__ import annotations

import importlib
import inspect
import math
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from backend.core.rates import parse_rate
from backend.core.schedules import check_cron


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskError(Exception):
    """Raised by a task to fail the attempt with a clean message (no traceback in the result)."""


class ArgsError(ValueError):
    """The arguments do not fit the task; the message says which and why."""


Progress = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class TaskContext:
    """What a running async task may use besides its input."""

    job_id: str
    attempt: int
    progress: Progress


AsyncTask = Callable[[TaskContext, str, Any], Awaitable[object]]
SyncTask = Callable[[str, Any], object]


@dataclass(frozen=True)
class Task:
    name: str
    run_async: AsyncTask | None
    run_sync: SyncTask | None
    args: type[BaseModel]
    cpu: bool  # documents intent only: every sync task runs in a process
    description: str
    timeout: float | None = None  # seconds; None: the job's own or COURIER_JOB_TIMEOUT
    rate: str | None = None
    cron: str | None = None

    def parse_args(self, raw: dict[str, Any]) -> BaseModel:
        try:
            return self.args.model_validate(raw)
        except ValidationError as exc:
            raise ArgsError(describe_args_error(self.name, exc)) from None


def describe_args_error(task: str, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "args"
        parts.append(f"{where}: {error['msg']}")
    return f"bad args for task {task!r}: " + "; ".join(parts)


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def task(
        self,
        name: str | None = None,
        *,
        args: type[BaseModel] = NoArgs,
        cpu: bool = False,
        timeout: float | None = None,
        rate: str | None = None,
        cron: str | None = None,
    ) -> Callable[[Any], Any]:
        """Registers a function as a task. Async: `(ctx, text, args)`; sync: `(text, args)`, a
        module-level function (it is sent to a process by reference)."""
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a number of seconds > 0 (got {timeout!r})")
        if rate is not None:
            parse_rate(rate)  # a mistake stops the import, with what a rate looks like
        if cron is not None:
            check_cron(cron)

        def register(func: Any) -> Any:
            task_name = name or func.__name__
            if task_name in self._tasks:
                raise ValueError(f"task {task_name!r} is already registered")
            doc = (inspect.getdoc(func) or "").split("\n")[0]
            is_async = inspect.iscoroutinefunction(func)
            run_async, run_sync = (func, None) if is_async else (None, func)
            self._tasks[task_name] = Task(
                task_name,
                run_async,
                run_sync,
                args,
                cpu,
                doc,
                timeout=timeout,
                rate=rate,
                cron=cron,
            )
            return func

        return register

    def get(self, name: str) -> Task | None:
        return self._tasks.get(name)

    def names(self) -> list[str]:
        return sorted(self._tasks)

    def all(self) -> list[Task]:
        return [self._tasks[n] for n in self.names()]


registry = TaskRegistry()
task = registry.task
BUILT_INS = "backend.core.demo_tasks"


def describe(exc: BaseException) -> str:
    """What went wrong, in one line: the message for TaskError, else type, message and place."""
    if isinstance(exc, TaskError):
        return str(exc)
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {frame[0].filename.rsplit('/', 1)[-1]}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


def load_tasks(module: str | None) -> TaskRegistry:
    """The registry with the built-ins and, if named, the user's module imported into it."""
    importlib.import_module(BUILT_INS)
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ImportError(f"COURIER_TASKS={module!r} cannot be imported: {exc}") from exc
    return registry
