"""The composition root: builds the FastAPI app from the JSON API (backend) and the pages
(frontend), and owns the process's one Redis pool through the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend.core.connection import create_redis
from backend.core.keys import Keys
from backend.core.metrics import Sampler
from backend.core.pubsub import Publisher
from backend.core.queue import JobQueue
from backend.core.rooms import Rooms
from backend.core.tasks import load_tasks
from backend.sessions.hub import EventHub
from backend.sessions.services import Services
from backend.settings import Settings
from backend.web import api, consumers, health, ws
from backend.web.deps import AppState
from frontend import chat, dashboard, jobs, lab, live, pages

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings) -> FastAPI:
    registry = load_tasks(settings.tasks)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        keys = Keys(settings.key_prefix)
        redis = create_redis(settings)
        hub = EventHub(redis, keys, settings)
        services = Services(
            hub=hub,
            queue=JobQueue(redis, keys, settings, hub.events),
            publisher=Publisher(hub.events, keys),
            rooms=Rooms(hub.events, keys, settings),
            registry=registry,
            settings=settings,
        )
        background = [
            asyncio.create_task(hub.run(), name="event hub"),
            asyncio.create_task(services.rooms.run(), name="room presence"),
            asyncio.create_task(Sampler(redis, keys).run(), name="metrics sampler"),
        ]
        try:
            yield AppState(settings=settings, keys=keys, redis=redis, services=services)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await redis.aclose()

    app = FastAPI(
        title="Courier",
        summary="A crash-safe Redis job queue and Redis pub/sub, side by side, over WebSockets.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(consumers.router)
    app.include_router(ws.router)
    api.install_error_handlers(app)
    app.include_router(pages.router)
    app.include_router(live.router)
    app.include_router(chat.router)
    app.include_router(lab.router)
    app.include_router(jobs.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
