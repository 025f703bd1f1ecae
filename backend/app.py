"""The composition root: builds the FastAPI app from the JSON API (backend) and the pages
(frontend), and owns the process's one Redis pool through the lifespan.

This is the one backend module that imports `frontend`: the app is where the two halves meet,
and the layer contracts (`lint-imports`) allow it here and nowhere else in backend/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend.core.connection import create_redis
from backend.core.keys import Keys
from backend.core.loops import cancel_and_wait
from backend.core.scheduler import run_schedules
from backend.core.stats import Sampler
from backend.core.tasks import TaskRegistry, load_tasks
from backend.sessions.services import Services
from backend.settings import Settings
from backend.web import api, apidocs, consumers, dead, errors, health, schedules, schema, ws
from backend.web.deps import AppState
from backend.web.limits import install_limits
from frontend import chat, controls, dashboard, jobs, lab, live, pages
from frontend.assets import static_dir

STATIC_DIR = static_dir()


def create_app(settings: Settings) -> FastAPI:
    registry = load_tasks(settings.tasks)
    app = FastAPI(
        title="Courier",
        summary="A crash-safe Redis job queue and Redis pub/sub, side by side, over WebSockets.",
        version="0.1.0",
        docs_url=None,  # /docs and /redoc come from backend.web.apidocs, with vendored assets
        redoc_url=None,
        lifespan=_lifespan(settings, registry),
    )
    for router in (
        health.router,
        api.router,
        dead.router,
        consumers.router,
        schedules.router,
        ws.router,
        apidocs.router,
    ):
        app.include_router(router)
    errors.install_error_handlers(app)
    install_limits(app, settings)
    schema.install_exact_schema(app, settings, registry)
    for page in (pages, live, chat, lab, controls, jobs, dashboard):
        app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _lifespan(
    settings: Settings, registry: TaskRegistry
) -> Callable[[FastAPI], AbstractAsyncContextManager[AppState]]:
    """One Redis pool and the process's background tasks, for the life of the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        keys = Keys(settings.key_prefix)
        redis = create_redis(settings)
        services = Services.build(redis, keys, settings, registry)
        hub = services.hub
        background = [
            asyncio.create_task(hub.run(), name="event hub"),
            asyncio.create_task(Sampler(redis, keys).run(), name="metrics sampler"),
            asyncio.create_task(
                run_schedules(services.schedules, services.queue), name="schedules"
            ),
        ]
        try:
            yield AppState(settings=settings, keys=keys, redis=redis, services=services)
        finally:
            await cancel_and_wait(background)
            await services.hub.events.pipeline.aclose()
            await redis.aclose()

    return lifespan
