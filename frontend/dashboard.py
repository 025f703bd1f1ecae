"""The dashboard: queue depth, throughput and latency over the last minutes, consumers with their
heartbeats, and Redis facts, refreshed live over a socket."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from redis.exceptions import RedisError

from backend.core.browse import task_counts, totals
from backend.core.stats import read_samples, read_status
from backend.core.topology import read_topology
from backend.web.deps import AppState, app_state
from backend.web.ws import accept_if_allowed, ignore_incoming
from frontend.charts import Series, chart
from frontend.pages import PAGE_METHODS
from frontend.templating import render_fragment, templates

router = APIRouter(include_in_schema=False)

REFRESH = 2.0


async def dashboard_context(state: AppState) -> dict[str, object]:
    redis, keys = state["redis"], state["keys"]
    status = await read_status(redis, keys, state["settings"].heartbeat_timeout)
    try:
        samples = await read_samples(redis, keys)
        facts = await read_topology(redis)
        counts = await task_counts(redis, keys)
    except RedisError:
        samples, facts, counts = [], None, []
    ms = [s.p50 * 1000 if s.p50 is not None else None for s in samples]
    ms95 = [s.p95 * 1000 if s.p95 is not None else None for s in samples]
    times, now = [s.t for s in samples], time.time()
    charts = [
        chart("Queue", "jobs", [
            Series("waiting", [float(s.depth) for s in samples], "s1"),
            Series("in flight", [float(s.in_flight) for s in samples], "s2"),
        ], times, now),
        chart("Throughput", "jobs/s", [
            Series("finished", [s.rate for s in samples], "s1"),
        ], times, now),
        chart("Latency, enqueue to result", "ms", [
            Series("p50", ms, "s1"), Series("p95", ms95, "s2"),
        ], times, now),
    ]  # fmt: skip
    total = totals(counts) if counts else None
    return {"status": status, "charts": charts, "facts": facts, "now": now} | {
        "counts": counts,
        "total": total,
    }


@router.api_route("/dashboard", methods=PAGE_METHODS, response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    context = await dashboard_context(app_state(request))
    return templates.TemplateResponse(request, "dashboard.html", {**context, "active": "dashboard"})


@router.websocket("/ui/ws/dashboard")
async def dashboard_socket(websocket: WebSocket) -> None:
    state = await accept_if_allowed(websocket)
    if state is None:
        return
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(ignore_incoming(websocket))
            while True:
                context = await dashboard_context(state)
                html = render_fragment("fragments/dashboard_body.html", oob=True, **context)
                await websocket.send_text(html)
                await asyncio.sleep(REFRESH)
    except* (WebSocketDisconnect, RuntimeError, OSError, KeyError):
        pass  # the tab closed (or sent something it should not): nothing to clean up
