"""Liveness, readiness and the system status as JSON."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from backend.core.connection import check_redis
from backend.core.stats import SystemStatus, read_status, recent_latencies
from backend.web.deps import KeysDep, RedisDep, ServicesDep, SettingsDep
from backend.web.metrics import prometheus_text

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving; says nothing about Redis."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Redis does not answer"}})
async def readyz(redis: RedisDep) -> JSONResponse:
    """Ready when Redis answers PING; a load balancer should stop sending traffic otherwise."""
    error = await check_redis(redis)
    if error is not None:
        return JSONResponse({"status": "unavailable", "redis": "down", "reason": error}, 503)
    return JSONResponse({"status": "ready", "redis": "up"})


@router.get("/metrics", response_class=PlainTextResponse, tags=["metrics"])
async def metrics(services: ServicesDep, redis: RedisDep, keys: KeysDep) -> PlainTextResponse:
    """Prometheus metrics: queue, jobs, pub/sub, consumers and job latency."""
    stats = await services.queue.stats()
    pubsub = await services.publisher.stats()
    status = await read_status(redis, keys, services.settings.heartbeat_timeout)
    latencies = await recent_latencies(redis, keys, time.time() - 60)
    text = prometheus_text(
        stats.model_dump(), pubsub.model_dump(), status.workers + status.subscribers, latencies
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@router.get("/api/status")
async def system_status(redis: RedisDep, keys: KeysDep, settings: SettingsDep) -> SystemStatus:
    """Redis, workers and subscribers as the home page shows them."""
    return await read_status(redis, keys, settings.heartbeat_timeout)
