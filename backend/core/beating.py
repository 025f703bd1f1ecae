"""The heartbeat loop every consumer process runs beside its real work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

from backend.core.consumers import ConsumerState, Heartbeat
from backend.procs.role import stop_if_cancelled

log = logging.getLogger("courier.heartbeat")


async def beat_forever(
    heartbeat: Heartbeat,
    interval: float,
    state: Callable[[], ConsumerState],
    counters: Callable[[], dict[str, int]],
) -> None:
    """Beats every `interval` seconds; a Redis outage is logged once and ridden out."""
    failing = False
    while True:
        stop_if_cancelled()
        try:
            await heartbeat.beat(state(), **counters())
        except RedisError as exc:
            if not failing:
                log.warning("heartbeat failed, retrying: %s", exc)
            failing = True
        else:
            if failing:
                log.info("heartbeat restored")
            failing = False
        await asyncio.sleep(interval)
