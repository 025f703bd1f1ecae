"""Asyncio plumbing shared by every process: periodic loops that ride out Redis outages, and
cancelling owned tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from redis.exceptions import RedisError

Seconds = float | Callable[[], float]


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


def _wait(seconds: Seconds) -> float:
    return max(0.0, seconds() if callable(seconds) else seconds)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object]]) -> None:
    """Cancels the tasks and waits until each has really ended, whatever it raised."""
    owned = list(tasks)
    for task in owned:
        task.cancel()
    await asyncio.gather(*owned, return_exceptions=True)
