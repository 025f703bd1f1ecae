"""Cron schedules over REST: list them with their next run, add and remove those kept in Redis
(adding and removing are admin actions when COURIER_ADMIN_TOKEN is set)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from pydantic import Field

from backend.core.rejected import Rejected
from backend.core.schedules import CRON_PATTERN, NAME_PATTERN, ScheduleSpec, ScheduleState
from backend.core.sends import check_send
from backend.web.admin import AdminDep
from backend.web.bodies import JsonBody, check_args_types
from backend.web.callers import require_caller
from backend.web.deps import RegistryDep, ServicesDep, SettingsDep
from backend.web.errors import BODY_ERRORS, ERRORS, ApiError, error, rejected


class ScheduleRequest(ScheduleSpec, JsonBody):
    cron: str = Field(
        pattern=CRON_PATTERN,
        max_length=200,
        description="Five numeric cron fields (minute hour day-of-month month day-of-week), or "
        "six with seconds last; `*`, values, ranges, lists and steps; UTC",
        examples=["*/5 * * * *"],
    )


router = APIRouter(prefix="/api", tags=["schedules"], dependencies=[Depends(require_caller)])
Name = Annotated[str, Path(pattern=NAME_PATTERN)]


@router.get("/schedules", responses={k: v for k, v in ERRORS.items() if k != 404})
async def list_schedules(services: ServicesDep) -> list[ScheduleState]:
    """Every schedule (from the settings, the tasks and this API), soonest next run first."""
    return await services.schedules.states()


@router.post(
    "/schedules",
    status_code=201,
    responses={**BODY_ERRORS, 409: error("A schedule of that name exists")},
)
async def add_schedule(
    spec: ScheduleRequest,
    services: ServicesDep,
    registry: RegistryDep,
    settings: SettingsDep,
    admin: AdminDep,
) -> ScheduleState:
    """Adds a schedule kept in Redis: every web process and worker runs it from its next tick."""
    try:
        check_send(registry, settings, spec.task, spec.text, spec.args)
        task = registry.get(spec.task)
        if task is not None:  # check_send refused an unknown one
            check_args_types(task, spec.args)
    except Rejected as exc:
        raise rejected(exc) from None
    if not await services.schedules.add(ScheduleSpec.model_validate(spec.model_dump())):
        raise ApiError(409, "schedule_exists", f"a schedule named {spec.name!r} exists already")
    [state] = [s for s in await services.schedules.states() if s.name == spec.name]
    return state


@router.delete("/schedules/{name}", status_code=204, responses=ERRORS)
async def remove_schedule(name: Name, services: ServicesDep, admin: AdminDep) -> Response:
    """Removes a schedule added over this API (those from settings and tasks stay)."""
    if not await services.schedules.remove(name):
        raise ApiError(404, "not_found", f"no schedule {name!r} added over the API")
    return Response(status_code=204)
