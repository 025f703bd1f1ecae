"""Liveness, readiness and the system status as JSON."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from backend.core.connection import check_redis
from backend.core.stats import SystemStatus, read_status
from backend.web.callers import require_caller
from backend.web.deps import KeysDep, RedisDep, ServicesDep, SettingsDep
from backend.web.errors import ERRORS, UNAUTHORIZED
from backend.web.metrics import Snapshot, as_row, exposition

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


@router.get("/metrics", response_class=Response, tags=["metrics"])
async def metrics(services: ServicesDep, redis: RedisDep, keys: KeysDep) -> Response:
    """Prometheus metrics: queue, job counters, pub/sub, consumers, job latency histogram."""
    status = await read_status(redis, keys, services.settings.heartbeat_timeout)
    snapshot = Snapshot(
        queue=await services.queue.stats(),
        pubsub=await services.publisher.stats(),
        consumers=status.workers + status.subscribers,
        latency=as_row(await redis.hgetall(keys.latency_histogram)),
        instance=services.hub.instance,
        sessions=len(services.hub.sinks),
    )
    return Response(exposition(snapshot), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/status",
    responses={**UNAUTHORIZED, 503: ERRORS[503]},
    dependencies=[Depends(require_caller)],
)
async def system_status(redis: RedisDep, keys: KeysDep, settings: SettingsDep) -> SystemStatus:
    """Redis, workers and subscribers as the home page shows them."""
    return await read_status(redis, keys, settings.heartbeat_timeout)
