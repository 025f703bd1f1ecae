"""The REST API for the dead-letter set: list it, and retry or discard jobs one at a time or in
bulk (chosen ids, or every dead letter)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from backend.core.jobs import Job, JobStatus
from backend.web.deps import QueueDep
from backend.web.errors import ERRORS, ApiError

router = APIRouter(prefix="/api/dead", tags=["dead letters"])

BULK_MAX = 1000


class JobChange(BaseModel):
    id: str
    status: JobStatus


class Selection(BaseModel):
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
    queue: QueueDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[Job]:
    """The dead-letter set, most recent first."""
    return await queue.dead_jobs(limit)


@router.post("/{job_id}/retry", responses=ERRORS)
async def retry_dead_job(job_id: str, queue: QueueDep) -> JobChange:
    """Puts a dead job back in the queue with fresh attempts."""
    if not await queue.retry_dead(job_id):
        raise ApiError(404, "not_found", f"job {job_id!r} is not in the dead-letter set")
    return JobChange(id=job_id, status=JobStatus.QUEUED)


@router.delete("/{job_id}", status_code=204, responses=ERRORS)
async def discard_dead_job(job_id: str, queue: QueueDep) -> None:
    """Removes a dead job for good."""
    if not await queue.discard_dead(job_id):
        raise ApiError(404, "not_found", f"job {job_id!r} is not in the dead-letter set")


@router.post("/retry", responses=ERRORS)
async def retry_dead_jobs(selection: Selection, queue: QueueDep) -> BulkOutcome:
    """Puts the chosen dead jobs (or all of them) back in the queue."""
    ids = selection.ids or await queue.dead_ids(BULK_MAX)
    done = await queue.retry_dead_many(ids)
    return BulkOutcome(done=done, missing=[i for i in ids if i not in set(done)])


@router.post("/discard", responses=ERRORS)
async def discard_dead_jobs(selection: Selection, queue: QueueDep) -> BulkOutcome:
    """Removes the chosen dead jobs (or all of them) for good."""
    ids = selection.ids or await queue.dead_ids(BULK_MAX)
    done = await queue.discard_dead_many(ids)
    return BulkOutcome(done=done, missing=[i for i in ids if i not in set(done)])
