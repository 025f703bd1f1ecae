"""The job console and the job pages: every job, filtered and a page at a time, live; one job's
detail; and the dead letters, one by one or in bulk.

Filters are plain query parameters, so a filtered view has a URL to share and reload; the page's
socket (frontend/console.py) keeps what it shows up to date.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Query, Request, WebSocket
from fastapi.responses import HTMLResponse

from backend.core.browse import JobFilter, browse, task_counts
from backend.core.jobs import JobStatus
from backend.sessions.session import Transport
from backend.web.admin import controls_open, is_admin
from backend.web.deps import (
    AppState,
    KeysDep,
    QueueDep,
    RedisDep,
    RegistryDep,
    SettingsDep,
    app_state,
)
from frontend.console import PAGE, ConsoleTransport, ConsoleView
from frontend.guards import require_same_origin
from frontend.resume import new_page_session, serve_page_session
from frontend.scheduled import scheduled_context, serve_scheduled
from frontend.templating import render_fragment, templates

router = APIRouter(include_in_schema=False)

PERIODS = {
    "5m": ("the last 5 minutes", 300),
    "1h": ("the last hour", 3600),
    "24h": ("the last day", 86400),
}
BULK_MAX = 1000


@dataclass(frozen=True)
class Filters:
    """The console's filters as the page's query string carries them."""

    status: JobStatus | None = None
    task: str = ""
    q: str = ""
    period: str = ""
    since: float | None = None

    @property
    def narrowed(self) -> bool:
        return any((self.status, self.task, self.q.strip(), self.since))

    @property
    def where(self) -> JobFilter:
        return JobFilter(self.status, self.task or None, self.since, self.q.strip() or None)

    def query(self, **more: str) -> str:
        fields = {"status": self.status.value if self.status else "", "task": self.task}
        fields |= {"q": self.q, "since": f"{self.since!r}" if self.since else "", **more}
        return urlencode({k: v for k, v in fields.items() if v})


def filters(
    status: Annotated[str, Query(max_length=16)] = "",
    task: Annotated[str, Query(max_length=100)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    period: Annotated[str, Query(max_length=8)] = "",
    since: Annotated[str, Query(max_length=32)] = "",
) -> Filters:
    """A page's filters, read leniently: a value the form cannot have sent means "any"."""
    chosen = JobStatus(status) if status in JobStatus.__members__.values() else None
    start = _number(since)
    if start is None and period in PERIODS:
        start = time.time() - PERIODS[period][1]
    return Filters(chosen, task, q, period if period in PERIODS else "", start)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


FiltersDep = Annotated[Filters, Depends(filters)]


@router.api_route("/jobs", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def console(
    request: Request,
    registry: RegistryDep,
    redis: RedisDep,
    keys: KeysDep,
    shown: FiltersDep,
    *,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    try:
        page = await browse(redis, keys, shown.where, cursor, PAGE)
    except ValueError:
        page, cursor = await browse(redis, keys, shown.where, None, PAGE), None
    context = {
        "tasks": registry.all(),
        "statuses": list(JobStatus),
        "periods": PERIODS,
        "filters": shown,
        "page": page,
        "first_page": cursor is None,
        "page_cursor": cursor,
        "counts": await task_counts(redis, keys),
        "active": "jobs",
        "page_session": new_page_session(),
    }
    return templates.TemplateResponse(request, "jobs.html", context)


@router.api_route("/jobs/dead", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def dead_letters(request: Request, queue: QueueDep, settings: SettingsDep) -> HTMLResponse:
    jobs = await queue.dead_jobs()
    context = {"jobs": jobs, "active": "jobs", "controls_open": controls_open(settings)}
    return templates.TemplateResponse(request, "jobs_dead.html", context)


@router.api_route("/jobs/scheduled", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def scheduled(request: Request) -> HTMLResponse:
    context = await scheduled_context(app_state(request))
    return templates.TemplateResponse(request, "jobs_scheduled.html", {**context, "active": "jobs"})


@router.websocket("/ui/jobs/scheduled/ws")
async def scheduled_socket(websocket: WebSocket) -> None:
    await serve_scheduled(websocket)


@router.api_route("/jobs/{job_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def job_detail(request: Request, job_id: str, queue: QueueDep) -> HTMLResponse:
    job = await queue.get(job_id)
    context = {"job": job, "job_id": job_id, "active": "jobs"}
    return templates.TemplateResponse(request, "job.html", context, status_code=200 if job else 404)


@router.post(
    "/ui/dead/{job_id}/{action}",
    response_class=HTMLResponse,
    dependencies=[Depends(require_same_origin)],
)
async def dead_action(
    job_id: str, action: str, request: Request, *, queue: QueueDep, settings: SettingsDep
) -> HTMLResponse:
    """Retry or discard a dead job; the row is replaced by what happened."""
    if not is_admin(settings, await _form_token(request)):
        return _refused()
    if action == "retry":
        done = await queue.retry_dead(job_id)
        text = "back in the queue" if done else "no longer in the dead-letter set"
    elif action == "discard":
        done = await queue.discard_dead(job_id)
        text = "discarded" if done else "no longer in the dead-letter set"
    else:
        text = f"unknown action {action!r}"
    return HTMLResponse(render_fragment("fragments/dead_done.html", job_id=job_id, text=text))


@router.post("/ui/dead", response_class=HTMLResponse, dependencies=[Depends(require_same_origin)])
async def dead_bulk(request: Request, queue: QueueDep, settings: SettingsDep) -> HTMLResponse:
    """The dead letters page's bulk buttons: retry or discard the ticked jobs, or all."""
    if not is_admin(settings, await _form_token(request)):
        return _refused()
    form = parse_qs((await request.body())[: 64 * BULK_MAX].decode(errors="replace"))
    action, everything = form.get("action", [""])[0], form.get("all", [""])[0] == "1"
    ids = await queue.dead_ids(BULK_MAX) if everything else form.get("id", [])[:BULK_MAX]
    if action not in ("retry", "discard") or not ids:
        text = "Tick the dead letters to act on." if ids == [] else f"Unknown action {action!r}."
        return HTMLResponse(render_fragment("fragments/dead_bulk.html", text=text, done=[]))
    change = queue.retry_dead_many if action == "retry" else queue.discard_dead_many
    done = await change(ids)
    verb = "put back in the queue" if action == "retry" else "discarded"
    text = f"{len(done)} of {len(ids)} {verb}."
    return HTMLResponse(render_fragment("fragments/dead_bulk.html", text=text, done=done))


async def _form_token(request: Request) -> str:
    """Dead letters are anyone's jobs, so retrying or discarding them is an admin action: the
    page's form carries the admin token, checked by the one admin check."""
    form = parse_qs((await request.body())[: 64 * BULK_MAX].decode(errors="replace"))
    return form.get("token", [""])[0]


def _refused() -> HTMLResponse:
    """The row stays as it was (no swap), and the notice says why."""
    text = "Retrying and discarding need the admin token."
    body = render_fragment("fragments/dead_bulk.html", text=text, done=[])
    return HTMLResponse(body, headers={"HX-Reswap": "none"})


@router.websocket("/ui/jobs/ws")
async def jobs_socket(websocket: WebSocket) -> None:
    """The console's socket carries the page's filters and cursor, so it watches what the
    page shows (and a reconnect redraws exactly that)."""
    params = websocket.query_params
    fields = ("status", "task", "q", "period", "since")
    shown = filters(*(params.get(name, "")[:200] for name in fields))
    view = ConsoleView(shown.where, params.get("cursor") or None, params.get("session", ""))
    consoles: list[ConsoleTransport] = []

    def page(socket: Transport, state: AppState) -> Transport:
        consoles.append(ConsoleTransport(socket, state, view))
        return consoles[-1]

    try:
        await serve_page_session(websocket, page)
    finally:
        for console_transport in consoles:
            await console_transport.stop()
