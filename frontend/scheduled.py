"""The scheduled view: jobs sent with `delay` or `at`, soonest first, and the cron schedules with
their next run.

Its socket watches the job feed, as the console does: a change to a job the page lists, or to a
job now in the scheduled set (one sent from anywhere), redraws the list, so a job leaves it when
it starts or is cancelled. The schedules are redrawn when one of them is due, and every few
seconds besides (their last runs, schedules added over the API). The countdowns themselves tick
in the browser (static/js/countdown.js).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from redis.exceptions import RedisError

from backend.core.browse import load_jobs
from backend.core.jobs import Job, JobStatus
from backend.web.deps import AppState
from backend.web.ws import accept_if_allowed, ignore_incoming
from frontend.templating import render_fragment

log = logging.getLogger("courier.scheduled")

MAX_JOBS = 200  # delayed jobs one page lists; past that it says how many more wait
FLUSH_EVERY = 0.25  # seconds job changes are gathered before a redraw
SCHEDULES_EVERY = 5.0  # seconds between redraws of the schedules when none is due sooner
TICK_SLACK = 0.5  # a schedule is redrawn this long after its tick, once its job is recorded


async def delayed_jobs(state: AppState) -> tuple[list[Job], int]:
    """The delayed jobs that start soonest, and how many wait in all."""
    redis, keys = state["redis"], state["keys"]
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrange(keys.scheduled, 0, MAX_JOBS - 1)
        pipe.zcard(keys.scheduled)
        ids, total = await pipe.execute()
    jobs = await load_jobs(redis, keys, [str(job_id) for job_id in ids])
    return [job for job in jobs if job.status is JobStatus.QUEUED], int(total)


async def scheduled_context(state: AppState) -> dict[str, Any]:
    jobs, total = await delayed_jobs(state)
    schedules = await state["services"].schedules.states()
    return {"jobs": jobs, "total": total, "schedules": schedules}


async def serve_scheduled(websocket: WebSocket) -> None:
    """The view's socket, until the page closes it."""
    state = await accept_if_allowed(websocket)
    if state is None:
        return
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(ignore_incoming(websocket))
            await ScheduledWatch(websocket, state).run()
    except* (WebSocketDisconnect, RuntimeError, OSError):
        log.debug("scheduled view socket closed")


class ScheduledWatch:
    """One open scheduled view: what it lists, and the job changes not yet looked at."""

    def __init__(self, websocket: WebSocket, state: AppState) -> None:
        self.websocket = websocket
        self.state = state
        self.feed = state["services"].hub.feed
        self.shown: set[str] = set()
        self.dirty: set[str] = set()
        self.wake = asyncio.Event()
        self.schedules_due = 0.0

    def job_changed(self, job_id: str, status: str) -> None:
        self.dirty.add(job_id)
        self.wake.set()

    async def run(self) -> None:
        """Redraws everything first (the page may have missed changes since it was rendered,
        or while its socket was down), then what changes, until the socket closes."""
        await self.feed.watch(self)
        try:
            await self._redraw(jobs=True)
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, self.schedules_due - time.time())):
                        await self.wake.wait()
                        await asyncio.sleep(FLUSH_EVERY)
                self.wake.clear()
                ids, self.dirty = self.dirty, set()
                await self._redraw(jobs=await self._concerns(ids))
        finally:
            self.feed.unwatch(self)

    async def _concerns(self, ids: set[str]) -> bool:
        """Whether any of these changed jobs is listed, or is one to list."""
        if not ids:
            return False
        if ids & self.shown:
            return True
        scores: Any = await self.state["redis"].zmscore(self.state["keys"].scheduled, list(ids))
        return any(score is not None for score in scores)

    async def _redraw(self, jobs: bool) -> None:
        try:
            if jobs:
                listed, total = await delayed_jobs(self.state)
                self.shown = {job.id for job in listed}
                html = render_fragment(
                    "fragments/scheduled_jobs.html", jobs=listed, total=total, oob=True
                )
                await self.websocket.send_text(html)
            if time.time() >= self.schedules_due:
                await self._redraw_schedules()
        except RedisError as exc:  # the next change (or tick) tries again
            log.warning("scheduled view: redraw failed: %s", exc)
            self.schedules_due = time.time() + SCHEDULES_EVERY

    async def _redraw_schedules(self) -> None:
        schedules = await self.state["services"].schedules.states()
        now = time.time()
        soonest = min((s.next_run for s in schedules), default=now + SCHEDULES_EVERY)
        self.schedules_due = min(soonest + TICK_SLACK, now + SCHEDULES_EVERY)
        await self.websocket.send_text(
            render_fragment("fragments/schedules.html", schedules=schedules, oob=True)
        )
