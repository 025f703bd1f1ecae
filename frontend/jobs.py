"""The job console: submit any task, watch your jobs live, cancel them, and tend dead letters.

The console's socket is an ordinary ClientSession underneath; its transport turns the page's forms
into `send` and `cancel` messages and each job event into the table row that shows the job now.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import HTMLResponse

from backend.core.queue import JobQueue
from backend.sessions.session import Transport
from backend.web.deps import QueueDep, RegistryDep
from frontend.guards import require_same_origin
from frontend.resume import new_page_session, serve_page_session
from frontend.templating import render_fragment, templates

router = APIRouter(include_in_schema=False)

MAX_TRACKED = 500


@dataclass
class JobRow:
    """What the console shows of one job, updated from its events."""

    id: str
    task: str
    text: str
    status: str = "queued"
    attempt: int = 0
    worker: str = ""
    progress: float = 0.0
    started: float | None = None
    finished: float | None = None
    outcome: str = ""

    @property
    def duration(self) -> str:
        if self.started is None:
            return ""
        end = self.finished if self.finished is not None else time.monotonic()
        return f"{end - self.started:.2f} s"

    def apply(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "started":
            self.status, self.attempt = "running", int(event["attempt"])
            self.worker, self.started, self.progress = event["consumer"], time.monotonic(), 0.0
        elif kind == "progress":
            self.progress = float(event["progress"])
        elif kind == "result":
            self._finish("succeeded", json.dumps(event["result"], ensure_ascii=False))
            self.progress = 1.0
        elif kind == "failed":
            self._finish("dead" if event["final"] else "failed", str(event["error"]))
        elif kind == "cancelled":
            self._finish("cancelled", "")

    def _finish(self, status: str, outcome: str) -> None:
        self.status, self.outcome = status, outcome
        self.finished = time.monotonic() if status != "failed" else None


class JobsTransport:
    def __init__(self, inner: Transport, queue: JobQueue | None = None) -> None:
        self.inner = inner
        self.queue = queue
        self.pending: dict[str, tuple[str, str]] = {}  # ref -> (task, text)
        self.rows: dict[str, JobRow] = {}

    async def receive_text(self) -> str:
        while True:
            try:
                message = self._message(json.loads(await self.inner.receive_text()))
            except ValueError as exc:  # the args field: shown at once, nothing is sent
                notice = f"args is not valid JSON: {exc}"
                await self.inner.send_text(
                    render_fragment("fragments/jobs_notice.html", text=notice, ok=False)
                )
                continue
            if message is not None:
                return json.dumps(message)

    def _message(self, form: Any) -> dict[str, Any] | None:
        if not isinstance(form, dict):
            return None
        if form.get("action") == "cancel":
            return {"type": "cancel", "id": str(form.get("id", ""))}
        ref = secrets.token_hex(4)
        task, text = str(form.get("task", "uppercase")), str(form.get("text", ""))
        args = json.loads(str(form.get("args") or "{}"))
        _forget_oldest(self.pending, MAX_TRACKED)
        _forget_oldest(self.rows, MAX_TRACKED)
        self.pending[ref] = (task, text)
        return {
            "type": "send",
            "mode": "queue",
            "task": task,
            "text": text,
            "args": args,
            "ref": ref,
        }

    async def send_text(self, data: str) -> None:
        event = json.loads(data)
        await self._recall(event)
        html = self._render(event)
        if html:
            await self.inner.send_text(html)

    async def _recall(self, event: dict[str, Any]) -> None:
        """A job event replayed after a reconnect, for a job this connection never saw sent:
        its row is on the page already; look the job up to redraw it whole."""
        job_id = str(event.get("id", ""))
        if event["type"] in ("accepted", "error") or not job_id or job_id in self.rows:
            return
        job = await self.queue.get(job_id) if self.queue is not None else None
        if job is not None:
            self.rows[job_id] = JobRow(job_id, job.task, job.text)

    def _render(self, event: dict[str, Any]) -> str:
        if event["type"] == "error":
            return render_fragment("fragments/jobs_notice.html", text=event["detail"], ok=False)
        if event["type"] == "accepted":
            task, text = self.pending.pop(str(event.get("ref")), ("?", ""))
            fresh = self.rows[event["id"]] = JobRow(event["id"], task, text)
            return render_fragment("fragments/jobs_row.html", row=fresh, new=True)
        row = self.rows.get(str(event.get("id")))
        if row is None:
            return ""
        row.apply(event)
        return render_fragment("fragments/jobs_row.html", row=row, new=False)

    async def close(self, code: int, reason: str) -> None:
        await self.inner.close(code, reason)


def _forget_oldest(table: dict[str, Any], keep: int) -> None:
    """A page remembers a bounded number of jobs; the oldest go first."""
    while len(table) >= keep:
        del table[next(iter(table))]


@router.get("/jobs", response_class=HTMLResponse)
async def console(request: Request, registry: RegistryDep) -> HTMLResponse:
    context = {"tasks": registry.all(), "active": "jobs", "page_session": new_page_session()}
    return templates.TemplateResponse(request, "jobs.html", context)


@router.get("/jobs/dead", response_class=HTMLResponse)
async def dead_letters(request: Request, queue: QueueDep) -> HTMLResponse:
    context = {"jobs": await queue.dead_jobs(), "active": "jobs"}
    return templates.TemplateResponse(request, "jobs_dead.html", context)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_detail(request: Request, job_id: str, queue: QueueDep) -> HTMLResponse:
    job = await queue.get(job_id)
    context = {"job": job, "job_id": job_id, "active": "jobs"}
    return templates.TemplateResponse(request, "job.html", context, status_code=200 if job else 404)


@router.post(
    "/ui/dead/{job_id}/{action}",
    response_class=HTMLResponse,
    dependencies=[Depends(require_same_origin)],
)
async def dead_action(job_id: str, action: str, queue: QueueDep) -> HTMLResponse:
    """Retry or discard a dead job; the row is replaced by what happened."""
    if action == "retry":
        done = await queue.retry_dead(job_id)
        text = "back in the queue" if done else "no longer in the dead-letter set"
    elif action == "discard":
        done = await queue.discard_dead(job_id)
        text = "discarded" if done else "no longer in the dead-letter set"
    else:
        done, text = False, f"unknown action {action!r}"
    return HTMLResponse(render_fragment("fragments/dead_done.html", job_id=job_id, text=text))


@router.websocket("/ui/jobs/ws")
async def jobs_socket(websocket: WebSocket) -> None:
    await serve_page_session(
        websocket, lambda socket, state: JobsTransport(socket, state["services"].queue)
    )
