"""Liveness, readiness and the system status as JSON."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend.connection import check_redis
from backend.state import KeysDep, RedisDep, SettingsDep
from backend.status import SystemStatus, read_status

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


@router.get("/api/status")
async def system_status(redis: RedisDep, keys: KeysDep, settings: SettingsDep) -> SystemStatus:
    """Redis, workers and subscribers as the home page shows them."""
    return await read_status(redis, keys, settings.heartbeat_timeout)
