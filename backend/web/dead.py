"""The REST API for the dead-letter set: list it, and retry or discard jobs one at a time or in
bulk (chosen ids, or every dead letter). Retrying and discarding are admin actions (`admin.py`):
they act on anyone's jobs. The list, like every job listing, shows a caller its own jobs only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.convertors import StringConvertor, register_url_convertor

from backend.core.jobs import Job, JobStatus
from backend.web.admin import require_admin
from backend.web.bodies import JsonBody
from backend.web.callers import CallerDep, require_caller
from backend.web.deps import QueueDep
from backend.web.errors import ADMIN_UNAUTHORIZED, BODY_ERRORS, ERRORS, ApiError

router = APIRouter(
    prefix="/api/dead", tags=["dead letters"], dependencies=[Depends(require_caller)]
)
ADMIN = [Depends(require_admin)]  # retry and discard: the admin token, when one is set

BULK_MAX = 1000


class JobIdConvertor(StringConvertor):
    """A job id (32 hex digits) in a path: `/api/dead/retry` is then never read as the job
    "retry", so a 405 there lists in `Allow` the methods of the bulk route only."""

    regex = "[0-9a-f]{32}"


register_url_convertor("job_id", JobIdConvertor())
JobId = Annotated[str, Path(pattern=f"^{JobIdConvertor.regex}$", description="A job's id")]


class JobChange(BaseModel):
    id: str
    status: JobStatus


class Selection(JsonBody):
    # Exactly one of the two, which the fields alone cannot say.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["ids"],
                    "properties": {"ids": {"minItems": 1}, "all": {"const": False}},
                },
                {
                    "required": ["all"],
                    "properties": {"all": {"const": True}, "ids": {"maxItems": 0}},
                },
            ]
        }
    )
    ids: list[str] = Field(default_factory=list, max_length=BULK_MAX)
    all: bool = Field(default=False, description="Every dead letter (up to 1000 per call)")

    @model_validator(mode="after")
    def _one_or_the_other(self) -> Selection:
        if self.all == bool(self.ids):
            raise ValueError('give "ids" (a list of job ids) or "all": true, not both')
        return self


class BulkOutcome(BaseModel):
    done: list[str] = Field(description="Job ids retried or discarded")
    missing: list[str] = Field(description="Job ids not in the dead-letter set (any more)")


@router.get("", responses=ERRORS)
async def dead_jobs(
    queue: QueueDep, caller: CallerDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[Job]:
    """The dead-letter set, most recent first: the caller's own dead jobs, unless it holds the
    admin token (so a page can hold fewer than `limit`)."""
    return [job for job in await queue.dead_jobs(limit) if caller.may_see(job)]


@router.post(
    "/{job_id:job_id}/retry",
    responses={**ERRORS, **ADMIN_UNAUTHORIZED},
    dependencies=ADMIN,
)
async def retry_dead_job(job_id: JobId, queue: QueueDep) -> JobChange:
    """Puts a dead job back in the queue with fresh attempts."""
    if not await queue.retry_dead(job_id):
        raise ApiError(404, "not_found", f"job {job_id!r} is not in the dead-letter set")
    return JobChange(id=job_id, status=JobStatus.QUEUED)


@router.delete(
    "/{job_id:job_id}",
    status_code=204,
    responses={**ERRORS, **ADMIN_UNAUTHORIZED},
    dependencies=ADMIN,
)
async def discard_dead_job(job_id: JobId, queue: QueueDep) -> None:
    """Removes a dead job for good."""
    if not await queue.discard_dead(job_id):
        raise ApiError(404, "not_found", f"job {job_id!r} is not in the dead-letter set")


@router.post(
    "/retry",
    responses={**BODY_ERRORS, **ADMIN_UNAUTHORIZED},
    dependencies=ADMIN,
)
async def retry_dead_jobs(selection: Selection, queue: QueueDep) -> BulkOutcome:
    """Puts the chosen dead jobs (or all of them) back in the queue."""
    ids = selection.ids or await queue.dead_ids(BULK_MAX)
    done = await queue.retry_dead_many(ids)
    return BulkOutcome(done=done, missing=[i for i in ids if i not in set(done)])


@router.post(
    "/discard",
    responses={**BODY_ERRORS, **ADMIN_UNAUTHORIZED},
    dependencies=ADMIN,
)
async def discard_dead_jobs(selection: Selection, queue: QueueDep) -> BulkOutcome:
    """Removes the chosen dead jobs (or all of them) for good."""
    ids = selection.ids or await queue.dead_ids(BULK_MAX)
    done = await queue.discard_dead_many(ids)
    return BulkOutcome(done=done, missing=[i for i in ids if i not in set(done)])
