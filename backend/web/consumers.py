"""REST controls for consumers: list them, pause and resume one or all.

When COURIER_ADMIN_TOKEN is set, these need `Authorization: Bearer <token>` (or the
`X-Admin-Token` header); when it is not, they are open, and the lab page says so.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from backend.core.consumers import Consumer, ConsumerKind, is_known, list_consumers
from backend.core.control import ALL, set_paused
from backend.web.admin import AdminDep, controls_open
from backend.web.callers import require_caller
from backend.web.deps import KeysDep, RedisDep, SettingsDep
from backend.web.errors import ADMIN_UNAUTHORIZED, ERRORS, UNAUTHORIZED, ApiError, error

router = APIRouter(
    prefix="/api/consumers", tags=["consumers"], dependencies=[Depends(require_caller)]
)


class ConsumerList(BaseModel):
    workers: list[Consumer]
    subscribers: list[Consumer]
    controls_open: bool


class PauseChange(BaseModel):
    consumer: str
    paused: bool


@router.get("", responses=UNAUTHORIZED)
async def consumers(redis: RedisDep, keys: KeysDep, settings: SettingsDep) -> ConsumerList:
    """Workers and subscribers with their state (idle, busy, paused, gone)."""
    timeout = settings.heartbeat_timeout
    return ConsumerList(
        workers=await list_consumers(redis, keys, ConsumerKind.WORKER, timeout),
        subscribers=await list_consumers(redis, keys, ConsumerKind.SUBSCRIBER, timeout),
        controls_open=controls_open(settings),
    )


@router.post(
    "/{consumer_id}/{action}",
    responses={
        **ERRORS,
        **ADMIN_UNAUTHORIZED,
        404: error("No consumer with that id"),
    },
)
async def pause_or_resume(
    consumer_id: str,
    action: Literal["pause", "resume"],
    redis: RedisDep,
    keys: KeysDep,
    _: AdminDep,
) -> PauseChange:
    """Pauses or resumes one consumer, or all with `*`. A paused worker takes no new job (they
    wait in the queue); a paused subscriber unsubscribes (what is published meanwhile is lost
    to it)."""
    if consumer_id != ALL and not await is_known(redis, keys, consumer_id):
        detail = f"no consumer {consumer_id!r} heard from in the last minute; * names them all"
        raise ApiError(404, "not_found", detail)
    await set_paused(redis, keys, consumer_id, action == "pause")
    return PauseChange(consumer=consumer_id, paused=action == "pause")
