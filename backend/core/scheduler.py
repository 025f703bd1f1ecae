"""The schedule loop each web process and worker runs: enqueue every due tick, claimed once."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from backend.core.keys import Keys
from backend.core.loops import every
from backend.core.queue import JobQueue
from backend.core.schedules import Schedules, fixed_schedules
from backend.core.tasks import TaskRegistry
from backend.settings import Settings

log = logging.getLogger("courier.schedules")


def build_schedules(
    redis: Redis, keys: Keys, settings: Settings, registry: TaskRegistry
) -> Schedules:
    """The settings' and the tasks' schedules; ValueError names a schedule whose task is not
    registered, so a mistake stops the process at start rather than failing every tick."""
    for spec in settings.schedules:
        if registry.get(spec.task) is None:
            known = ", ".join(registry.names())
            raise ValueError(
                f"COURIER_SCHEDULES: schedule {spec.name!r} names unknown task {spec.task!r} "
                f"(known: {known})"
            )
    declared = {task.name: task.cron for task in registry.all()}
    return Schedules(redis, keys, fixed_schedules(settings.schedules, declared))


async def fire_due(schedules: Schedules, queue: JobQueue) -> int:
    """Enqueues the ticks due since the last look; returns how many this process claimed."""
    now = time.time()
    specs = await schedules.specs()
    by_name = {spec.name: spec for spec, _ in specs}
    claimed = 0
    for name, tick in schedules.due(specs, now):
        spec = by_name[name]
        options = schedules.tick_options(spec, tick)
        done = await queue.submit(
            spec.task, spec.text, spec.args, options=options, owner=f"schedule:{name}"
        )
        if not done.duplicate:  # another process claimed this tick first
            await schedules.record(name, tick, done.id)
            log.info("schedule %s: enqueued job %s for %s", name, done.id, time.ctime(tick))
            claimed += 1
    schedules.checked = now
    schedules.pause = await schedules.sleep_for(time.time())
    return claimed


async def run_schedules(schedules: Schedules, queue: JobQueue) -> None:
    """Forever; Redis errors are logged and the loop goes on (a missed tick within the grace
    period is enqueued late, not lost)."""
    await every(
        lambda: schedules.pause, lambda: fire_due(schedules, queue), log=log, what="schedules"
    )
