"""The composition root: builds the FastAPI app from the JSON API (backend) and the pages
(frontend), and owns the process's one Redis pool through the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend import health
from backend.connection import create_redis
from backend.keys import Keys
from backend.settings import Settings
from backend.state import AppState
from frontend import live, pages

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        redis = create_redis(settings)
        try:
            yield AppState(settings=settings, keys=Keys(settings.key_prefix), redis=redis)
        finally:
            await redis.aclose()

    app = FastAPI(
        title="Courier",
        summary="A crash-safe Redis job queue and Redis pub/sub, side by side, over WebSockets.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    app.include_router(pages.router)
    app.include_router(live.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
