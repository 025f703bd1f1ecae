"""The job console's socket: the page's forms become `send` and `cancel` messages of an ordinary
session, and every job change anywhere (the job feed) redraws the rows the page shows.

Changes are gathered for a quarter of a second and the changed jobs read in one round trip, so a
console costs the same whether one job changes or a thousand do. New jobs that fit the page's
filters appear at the top of its first page; a page of older jobs only updates what it shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from backend.core.browse import JobFilter, browse, load_jobs, task_counts
from backend.core.jobs import Job
from backend.sessions.session import Transport
from backend.web.deps import AppState
from frontend.job_form import accepted_notice, job_options, parse_args
from frontend.templating import render_fragment

log = logging.getLogger("courier.console")

FLUSH_EVERY = 0.25  # seconds between redraws
COUNTS_EVERY = 2.0  # seconds between redraws of the per-task counts
MAX_ROWS = 200  # rows one page shows; past that, new jobs are announced instead
PAGE = 50  # jobs per page


@dataclass
class ConsoleView:
    """What one console page shows: its filters, where its page starts, its rows."""

    where: JobFilter
    cursor: str | None  # None: the newest page, where new jobs appear
    session: str
    shown: set[str] = field(default_factory=set)
    hidden_new: int = 0  # new jobs not shown (the page is full)

    @property
    def first_page(self) -> bool:
        return self.cursor is None


class ConsoleTransport:
    def __init__(self, inner: Transport, state: AppState, view: ConsoleView) -> None:
        self.inner = inner
        self.redis, self.keys = state["redis"], state["keys"]
        self.feed = state["services"].hub.feed
        self.view = view
        self.dirty: set[str] = set()
        self.wake = asyncio.Event()
        self.flusher: asyncio.Task[None] | None = None
        self.counts_at = 0.0

    # From the page -----------------------------------------------------------------------------

    async def receive_text(self) -> str:
        if self.flusher is None:
            await self._start()
        while True:
            message = await self._next_message()
            if message is not None:
                return json.dumps(message)

    async def _start(self) -> None:
        """Watches the feed first, then reads the page, so no change falls in between, and
        redraws the whole table: jobs may have changed, or arrived, since the page was
        rendered, and after a reconnect the page may have missed anything."""
        await self.feed.watch(self)
        with contextlib.suppress(ValueError):
            page = await browse(self.redis, self.keys, self.view.where, self.view.cursor, PAGE)
            self.view.shown = {job.id for job in page.jobs}
            rows = [
                render_fragment("fragments/jobs_row.html", job=j, view=self.view) for j in page.jobs
            ]
            body = "".join(rows)
            await self.inner.send_text(f'<tbody id="job-rows" hx-swap-oob="true">{body}</tbody>')
        self.flusher = asyncio.create_task(self._flush_forever())

    async def _next_message(self) -> dict[str, Any] | None:
        form = json.loads(await self.inner.receive_text())
        if not isinstance(form, dict):
            return None
        if form.get("action") == "cancel":
            return {"type": "cancel", "id": str(form.get("id", ""))}
        try:
            args = parse_args(str(form.get("args", "")))
        except ValueError as exc:  # shown at once; nothing is sent
            await self._notice(f"Arguments: {exc}", ok=False)
            return None
        task, text = str(form.get("task", "uppercase")), str(form.get("text", ""))
        ref = secrets.token_hex(4)
        message = {"type": "send", "task": task, "text": text, "args": args, "ref": ref}
        return message | job_options(form)

    # From the session --------------------------------------------------------------------------

    async def send_text(self, data: str) -> None:
        event = json.loads(data)
        if event.get("type") == "error":
            await self._notice(str(event.get("detail")), ok=False)
        elif event.get("type") == "accepted":
            await self._notice(accepted_notice(event), ok=True)
            if not event.get("duplicate"):  # the first job's row shows it already
                self.job_changed(str(event["id"]), "queued")

    async def close(self, code: int, reason: str) -> None:
        await self.inner.close(code, reason)

    # From the job feed -------------------------------------------------------------------------

    def job_changed(self, job_id: str, status: str) -> None:
        self.dirty.add(job_id)
        self.wake.set()

    async def _flush_forever(self) -> None:
        while True:
            await self.wake.wait()
            await asyncio.sleep(FLUSH_EVERY)
            self.wake.clear()
            ids, self.dirty = self.dirty, set()
            try:
                await self._redraw(ids)
            except (RedisError, OSError) as exc:  # the next change redraws them
                log.warning("job console: redraw of %d jobs failed: %s", len(ids), exc)
            except Exception:  # a bug must cost one redraw, not the page's liveness
                log.exception("job console: redraw of %d jobs failed", len(ids))

    async def _redraw(self, ids: set[str]) -> None:
        """One frame per kind of content: htmx reads a frame that starts with a table row as
        the body of one table and drops whatever follows it in another element. So rows that
        change go in one frame, new rows in one `tbody` of their own, the counts in a third."""
        jobs = {job.id: job for job in await load_jobs(self.redis, self.keys, sorted(ids))}
        changed, new = self._rows(jobs, ids)
        if changed:
            await self.inner.send_text("".join(changed))
        if new:
            top = "".join(reversed(new))  # newest first, on top of what is there
            await self.inner.send_text(f'<tbody hx-swap-oob="afterbegin:#job-rows">{top}</tbody>')
        if time.monotonic() - self.counts_at > COUNTS_EVERY:
            self.counts_at = time.monotonic()
            counts = await task_counts(self.redis, self.keys)
            html = render_fragment("fragments/jobs_counts.html", counts=counts, oob=True)
            await self.inner.send_text(html)
        if self.view.hidden_new:
            more = render_fragment("fragments/jobs_more.html", count=self.view.hidden_new)
            await self.inner.send_text(more)

    def _rows(self, jobs: dict[str, Job], ids: set[str]) -> tuple[list[str], list[str]]:
        """Rows to replace (or delete), and new rows for the top of the first page, oldest
        first."""
        view, changed, new = self.view, [], []
        for job_id in _newest_last(jobs, ids):
            job = jobs.get(job_id)
            if job_id in view.shown:
                changed.append(self._changed_row(job_id, job))
            elif job is not None and view.first_page and _fits(view.where, job):
                if len(view.shown) >= MAX_ROWS:
                    view.hidden_new += 1
                    continue
                view.shown.add(job_id)
                new.append(render_fragment("fragments/jobs_row.html", job=job, view=view))
        return changed, new

    def _changed_row(self, job_id: str, job: Job | None) -> str:
        if job is None:  # discarded, or expired
            self.view.shown.discard(job_id)
            return f'<tr id="job-{job_id}" hx-swap-oob="delete"></tr>'
        return render_fragment("fragments/jobs_row.html", job=job, view=self.view, place="replace")

    async def _notice(self, text: str, ok: bool) -> None:
        await self.inner.send_text(render_fragment("fragments/jobs_notice.html", text=text, ok=ok))

    async def stop(self) -> None:
        self.feed.unwatch(self)
        if self.flusher is not None:
            self.flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.flusher


def _newest_last(jobs: dict[str, Job], ids: set[str]) -> list[str]:
    """New rows are put on top one after the other, so the newest must come last."""
    return sorted(ids, key=lambda job_id: jobs[job_id].created if job_id in jobs else 0.0)


def _fits(where: JobFilter, job: Job) -> bool:
    if where.since is not None and job.created < where.since:
        return False
    return where.matches(job.id, job.status.value, job.task, job.text)
