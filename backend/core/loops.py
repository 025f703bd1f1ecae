"""Asyncio plumbing shared by every process: periodic loops that ride out Redis outages, and
cancelling owned tasks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from redis.exceptions import RedisError

Seconds = float | Callable[[], float]
T = TypeVar("T")


def stop_if_cancelled() -> None:
    """Re-raises a cancellation that a library swallowed: on Python 3.11, a cancel landing
    inside a redis-py command can be lost, leaving a loop running. Loops call this each turn."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def every(
    seconds: Seconds,
    action: Callable[[], Awaitable[object]],
    *,
    log: logging.Logger,
    what: str,
    first_wait: bool = True,
) -> None:
    """Runs `action` every `seconds` (a number, or a function giving the next wait) until
    cancelled. A Redis error is logged once per outage, and the loop keeps going."""
    failing = False
    if first_wait:
        await asyncio.sleep(_wait(seconds))
    while True:
        stop_if_cancelled()
        try:
            await action()
        except (RedisError, OSError) as exc:
            if not failing:
                log.warning("%s failed, will retry: %s", what, exc)
            failing = True
        else:
            if failing:
                log.info("%s works again", what)
            failing = False
        await asyncio.sleep(_wait(seconds))


async def patiently(action: Callable[[], Awaitable[T]], patience: float) -> T:
    """`action`, tried again on a Redis error (0.1 s, 0.2 s ... up to 2 s apart) for up to
    `patience` seconds, through a restart or a failover; then the last error is raised."""
    pause, deadline = 0.1, time.monotonic() + patience
    while True:
        try:
            return await action()
        except (RedisError, OSError):
            if time.monotonic() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(2.0, pause * 2)


def _wait(seconds: Seconds) -> float:
    return max(0.0, seconds() if callable(seconds) else seconds)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]]) -> None:
    """Cancels the tasks and waits until each has really ended, whatever it raised."""
    owned = list(tasks)
    for task in owned:
        task.cancel()
    await asyncio.gather(*owned, return_exceptions=True)


async def first_of(*waits: Awaitable[object]) -> None:
    """Returns when the first of `waits` completes, cancelling the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
