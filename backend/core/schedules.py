"""Cron schedules: a job enqueued at every tick of a cron expression, from the settings
(`COURIER_SCHEDULES`), from a task's `@task(cron=...)`, or added at run time over the API.

Every web process and every worker runs the schedule loop, so schedules go on while any of
them lives. Each tick is enqueued once however many run it: the job's idempotency key is the
schedule's name and the tick's time, so the first process to enqueue it claims the tick in Redis
and the others are told it is a duplicate.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from pydantic import BaseModel, Field, field_validator
from redis.asyncio import Redis

from backend.core.keys import Keys
from backend.core.options import JobOptions

log = logging.getLogger("courier.schedules")

NAME_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


def _field(value: str) -> str:
    """One cron field: `*` or a value or a range, with an optional step, comma-separated."""
    item = rf"(?:\*|{value}(?:-{value})?)(?:/[1-9][0-9]?)?"
    return rf"{item}(?:,{item})*"


_MINUTE, _HOUR = r"(?:[0-5]?[0-9])", r"(?:[01]?[0-9]|2[0-3])"
_DAY, _MONTH, _WEEKDAY = r"(?:0?[1-9]|[12][0-9]|3[01])", r"(?:0?[1-9]|1[0-2])", r"[0-7]"
# What the API takes, as a pattern its schema can show: numeric fields, seconds last if six.
CRON_PATTERN = (
    rf"^{_field(_MINUTE)} {_field(_HOUR)} {_field(_DAY)} {_field(_MONTH)} {_field(_WEEKDAY)}"
    rf"(?: {_field(_MINUTE)})?$"
)
GRACE = 30.0  # a tick missed by more than this (every process was down) is skipped, as cron does
IDLE = 1.0  # seconds between looks when no tick is due sooner (schedules added over the API)


def next_run(cron: str, after: float) -> float:
    """The first tick of `cron` strictly after `after` (unix time, UTC)."""
    start = datetime.fromtimestamp(after, tz=UTC)
    return float(croniter(cron, start).get_next(float))


def check_cron(cron: str) -> str:
    """The expression itself, or ValueError saying what is wrong with it."""
    try:
        croniter(cron).get_next(float)
    except CroniterBadDateError:
        raise ValueError(f"cron {cron!r} never fires (no such date)") from None
    except (CroniterBadCronError, ValueError, KeyError) as exc:
        raise ValueError(
            f"cron {cron!r} is not a cron expression ({exc}); five fields (minute hour "
            "day-of-month month day-of-week), or six with seconds last, e.g. '*/5 * * * *'"
        ) from None
    return cron


class ScheduleSpec(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(pattern=NAME_PATTERN, description="Unique name; part of each tick's key")
    cron: str = Field(
        max_length=200,
        description="Five fields, or six with seconds last",
        examples=["*/5 * * * *"],
    )
    task: str = Field(max_length=100, examples=["uppercase"])
    text: str = Field(default="", max_length=16384)
    args: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=5, ge=0, le=9)
    timeout: float | None = Field(default=None, gt=0, le=86400)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return check_cron(value)


class ScheduleState(ScheduleSpec):
    source: str = Field(description="settings, task (its @task(cron=...)) or api")
    next_run: float
    last_run: float | None = None
    last_job: str | None = None


class Schedules:
    """The schedules this process knows (settings and tasks) plus those stored in Redis."""

    def __init__(self, redis: Redis, keys: Keys, fixed: list[tuple[ScheduleSpec, str]]) -> None:
        self.redis = redis
        self.keys = keys
        self.fixed = fixed  # (spec, source) from the settings and the tasks
        self.stored_key = keys.queue_base + "schedules"
        self.runs_key = keys.queue_base + "schedule-runs"
        self.checked = time.time()
        self.pause = IDLE  # until the next look

    async def specs(self) -> list[tuple[ScheduleSpec, str]]:
        stored: Any = await self.redis.hgetall(self.stored_key)
        added = []
        for name, raw in sorted(stored.items()):
            try:
                added.append((ScheduleSpec.model_validate_json(raw), "api"))
            except ValueError as exc:  # written by a newer or broken client: skip, say so
                log.warning("schedule %r in Redis is not valid, skipped: %s", name, exc)
        names = {spec.name for spec, _ in self.fixed}
        return [*self.fixed, *((s, src) for s, src in added if s.name not in names)]

    async def states(self) -> list[ScheduleState]:
        now = time.time()
        runs: Any = await self.redis.hgetall(self.runs_key)
        states = []
        for spec, source in await self.specs():
            last = json.loads(runs[spec.name]) if spec.name in runs else {}
            state = ScheduleState(
                **spec.model_dump(), source=source, next_run=next_run(spec.cron, now)
            )
            state.last_run, state.last_job = last.get("at"), last.get("job")
            states.append(state)
        return sorted(states, key=lambda s: (s.next_run, s.name))

    async def add(self, spec: ScheduleSpec) -> bool:
        """Stores a schedule; False when a schedule of that name exists already."""
        if any(fixed.name == spec.name for fixed, _ in self.fixed):
            return False
        return bool(await self.redis.hsetnx(self.stored_key, spec.name, spec.model_dump_json()))

    async def remove(self, name: str) -> bool:
        """Removes a schedule added over the API; False if there is none of that name."""
        removed = bool(await self.redis.hdel(self.stored_key, name))
        if removed:
            await self.redis.hdel(self.runs_key, name)
        return removed

    def due(self, specs: list[tuple[ScheduleSpec, str]], now: float) -> list[tuple[str, float]]:
        """(name, tick) of every tick in (last check, now], within the grace period."""
        since = max(self.checked, now - GRACE)
        ticks = []
        for spec, _ in specs:
            tick = next_run(spec.cron, since)
            while tick <= now:
                ticks.append((spec.name, tick))
                tick = next_run(spec.cron, tick)
        return ticks

    def tick_options(self, spec: ScheduleSpec, tick: float) -> JobOptions:
        """The key claims the tick: one enqueue in the whole deployment."""
        key = f"cron:{spec.name}:{tick:.0f}"
        return JobOptions(key=key, priority=spec.priority, timeout=spec.timeout)

    async def record(self, name: str, tick: float, job_id: str) -> None:
        await self.redis.hset(self.runs_key, name, json.dumps({"at": tick, "job": job_id}))

    async def sleep_for(self, now: float) -> float:
        """Seconds until the next tick of any schedule (at most IDLE)."""
        ticks = [next_run(spec.cron, now) for spec, _ in await self.specs()]
        return max(0.01, min([IDLE, *(tick - now for tick in ticks)]))


def fixed_schedules(
    configured: list[ScheduleSpec], declared: dict[str, str | None]
) -> list[tuple[ScheduleSpec, str]]:
    """The settings' schedules, then one per task declared with `cron` (named after the task)."""
    fixed = [(spec, "settings") for spec in configured]
    names = {spec.name for spec in configured}
    for task, cron in sorted(declared.items()):
        if cron and task not in names:
            fixed.append((ScheduleSpec(name=task, cron=cron, task=task), "task"))
    return fixed
