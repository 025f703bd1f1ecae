"""The REST API for jobs, the queue and the dead-letter set (OpenAPI at /docs).

Every error is JSON `{"error": <code>, "detail": <what was wrong>}` with a fitting status code.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from backend.core.browse import JobFilter, JobPage, TaskCounts, browse, task_counts
from backend.core.consumers import Consumer, ConsumerKind, list_consumers
from backend.core.jobs import Job, JobStatus
from backend.core.options import JobOptions
from backend.core.queue import QueueStats
from backend.core.rejected import Rejected
from backend.core.sends import check_send, is_encodable
from backend.web.bodies import JsonBody, check_args_types
from backend.web.callers import CallerDep, require_caller
from backend.web.deps import KeysDep, QueueDep, RedisDep, RegistryDep, SettingsDep
from backend.web.errors import BODY_ERRORS, ERRORS, UNAUTHORIZED, ApiError, error, rejected

router = APIRouter(prefix="/api", tags=["jobs"], dependencies=[Depends(require_caller)])


class JobRequest(JobOptions, JsonBody):
    task: str = Field(default="uppercase", max_length=100, examples=["uppercase"])
    text: str = Field(default="", examples=["hello"])
    args: dict[str, Any] = Field(default_factory=dict, examples=[{}])


class JobCreated(BaseModel):
    id: str
    status: JobStatus = JobStatus.QUEUED
    run_at: float | None = Field(default=None, description="When a delayed job may start")
    duplicate: bool = Field(
        default=False, description="An earlier job has this `key`: this is its id; nothing new runs"
    )


class JobChange(BaseModel):
    id: str
    status: JobStatus


class QueueReport(QueueStats):
    workers: list[Consumer]
    tasks: list[TaskCounts] = Field(description="Counts per task, with the mean run time")


class TaskInfo(BaseModel):
    name: str
    description: str
    cpu: bool
    args_schema: dict[str, Any]


def exact_args(body: JobRequest, registry: RegistryDep) -> None:
    """Arguments that fit their task only by lax conversion (`"5"` for a number) are refused,
    as the schema says; runs before the route, which reads the same body."""
    task = registry.get(body.task)
    try:
        if task is not None:
            check_args_types(task, body.args)
    except Rejected as exc:
        raise rejected(exc) from None


@router.post("/jobs", status_code=202, responses=BODY_ERRORS, dependencies=[Depends(exact_args)])
async def create_job(
    body: JobRequest,
    queue: QueueDep,
    registry: RegistryDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> JobCreated:
    """Queues a job; its outcome is read with GET /api/jobs/{id}."""
    if not is_encodable(body.model_dump()):
        raise ApiError(422, "invalid_request", "the body contains an unpaired surrogate")
    try:
        check_send(registry, settings, body.task, body.text, body.args)
    except Rejected as exc:
        raise rejected(exc) from None
    done = await queue.submit(
        body.task, body.text, body.args, options=body.options(), owner=caller.owner
    )
    return JobCreated(id=done.id, status=done.status, run_at=done.run_at, duplicate=done.duplicate)


@router.get("/jobs/{job_id}", responses=ERRORS)
async def get_job(job_id: str, queue: QueueDep, caller: CallerDep) -> Job:
    """Status, attempts, worker, timings, and the result or the error of each failed attempt.
    Someone else's job is 404, as one that never was."""
    job = await queue.get(job_id)
    if job is None or not caller.may_see(job):
        raise ApiError(404, "not_found", f"no job {job_id!r} (unknown, or past its retention)")
    return job


@router.delete("/jobs/{job_id}", responses={**ERRORS, 409: error("Already finished")})
async def cancel_job(job_id: str, queue: QueueDep, caller: CallerDep) -> JobChange:
    """Cancels a queued, retry-waiting or running job; a cancelled job never reports a result.
    The owner is checked first: a job changes hands never, so the read cannot go stale."""
    job = await queue.get(job_id)
    outcome = await queue.cancel(job_id) if job is not None and caller.may_see(job) else None
    if outcome is None or outcome.status is None:
        raise ApiError(404, "not_found", f"no job {job_id!r}")
    if not outcome.cancelled:
        raise ApiError(409, "already_finished", f"job {job_id!r} already {outcome.status.value}")
    return JobChange(id=job_id, status=JobStatus.CANCELLED)


@router.get("/queue", responses=ERRORS)
async def queue_report(
    queue: QueueDep, redis: RedisDep, keys: KeysDep, settings: SettingsDep
) -> QueueReport:
    """Depth, in-flight, dead-letter count, counters and the workers with their heartbeats."""
    stats = await queue.stats()
    workers = await list_consumers(redis, keys, ConsumerKind.WORKER, settings.heartbeat_timeout)
    counts = await task_counts(redis, keys)
    return QueueReport(**stats.model_dump(), workers=workers, tasks=counts)


CURSOR = r"^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\|[^|]*$"  # `next` as browse() writes it


class JobQuery(BaseModel):
    """Filters and paging of GET /api/jobs."""

    model_config = {"extra": "forbid"}
    status: JobStatus | None = None
    task: str | None = Field(default=None, max_length=100)
    since: float | None = Field(default=None, ge=0, description="Created at or after (unix)")
    q: str | None = Field(default=None, max_length=200, description="In the id or the text")
    cursor: str | None = Field(
        default=None, max_length=100, pattern=CURSOR, description="A page's `next`"
    )
    limit: int = Field(default=50, ge=1, le=200)


@router.get("/jobs", responses=ERRORS)
async def list_jobs(
    redis: RedisDep, keys: KeysDep, query: Annotated[JobQuery, Query()], caller: CallerDep
) -> JobPage:
    """Jobs newest first, filtered; follow `next` for older ones. Only the caller's own jobs,
    unless it holds the admin token."""
    where = JobFilter(query.status, query.task, query.since, query.q or None, caller.sees_only)
    try:
        return await browse(redis, keys, where, query.cursor, query.limit)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", f"cursor: {exc}") from None


@router.get("/tasks", responses=UNAUTHORIZED)
async def tasks(registry: RegistryDep) -> list[TaskInfo]:
    """The registered tasks and the JSON schema of their `args`."""
    return [
        TaskInfo(
            name=t.name,
            description=t.description,
            cpu=t.cpu,
            args_schema=t.args.model_json_schema(),
        )
        for t in registry.all()
    ]
