"""Browsing jobs: newest first, filtered, a page at a time, and counts per task.

The index is a sorted set of job ids by creation time. A page walks it downwards from a cursor,
reads the fields a filter needs in one round trip per batch, and stops when the page is full or
after a bounded number of entries, so a rare filter costs several short requests rather than one
long one. Ids whose job has expired are dropped from the index when a walk meets them. The owner
is one more such filter (the REST API lists a caller's own jobs only), so a caller with few jobs
among many other callers' gets short pages with a `next` more often.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from backend.core.jobs import Job, JobStatus
from backend.core.keys import Keys

BATCH = 200
SCAN_MAX = 2000  # index entries one page may look at
TASK_COUNTERS = ("running", "succeeded", "failed", "dead", "cancelled")


@dataclass(frozen=True)
class JobFilter:
    status: JobStatus | None = None
    task: str | None = None
    since: float | None = None  # created at or after (unix time)
    text: str | None = None  # in the id, or in the text (case-insensitive)
    owner: str | None = None  # only the jobs of this owner ("": created anonymously)

    def matches(self, job_id: str, status: str | None, task: str | None, text: str) -> bool:
        if self.status is not None and status != self.status.value:
            return False
        if self.task is not None and task != self.task:
            return False
        if self.text:
            needle = self.text.lower()
            return needle in job_id or needle in text.lower()
        return True


class JobPage(BaseModel):
    jobs: list[Job]
    next: str | None = Field(description="Cursor of the next (older) page; null at the end")


class TaskCounts(BaseModel):
    task: str
    running: int = 0
    succeeded: int = 0
    failed: int = Field(default=0, description="Failed attempts, retried or not")
    dead: int = 0
    cancelled: int = 0
    mean_seconds: float | None = Field(default=None, description="Mean run time of successes")


async def browse(
    redis: Redis, keys: Keys, where: JobFilter, cursor: str | None, limit: int
) -> JobPage:
    """Jobs matching `where`, newest first, after `cursor` (the `next` of a previous page)."""
    top, after = _parse_cursor(cursor)
    found: list[str] = []
    scanned = 0
    while len(found) < limit and scanned < SCAN_MAX:
        batch = await _entries(redis, keys, top, after, where.since)
        if not batch:
            return JobPage(jobs=await load_jobs(redis, keys, found), next=None)
        matches = set(await _matching(redis, keys, where, batch))
        for job_id, score in batch:
            scanned += 1
            top, after = score, job_id
            if job_id in matches:
                found.append(job_id)
                if len(found) == limit:
                    break
    return JobPage(jobs=await load_jobs(redis, keys, found), next=f"{top!r}|{after}")


async def _entries(
    redis: Redis, keys: Keys, top: float | str, after: str | None, since: float | None
) -> list[tuple[str, float]]:
    """The next index entries below the cursor, newest first."""
    floor = since if since is not None else "-inf"
    rows: Any = await redis.zrevrangebyscore(
        keys.job_index, top, floor, start=0, num=BATCH, withscores=True
    )
    entries = [(str(job_id), float(score)) for job_id, score in rows]
    return [(i, s) for i, s in entries if not _seen(i, s, top, after)]


def _parse_cursor(cursor: str | None) -> tuple[float | str, str | None]:
    if not cursor:
        return "+inf", None
    score, _, job_id = cursor.partition("|")
    try:
        return float(score), job_id or None
    except ValueError:
        raise ValueError(f"not a cursor this API gave: {cursor[:40]!r}") from None


def _seen(job_id: str, score: float, top: float | str, after: str | None) -> bool:
    """Entries at the cursor's own score that the previous page already went through (the
    index orders equal scores by id, descending)."""
    return after is not None and score == top and job_id >= after


async def _matching(
    redis: Redis, keys: Keys, where: JobFilter, batch: list[tuple[str, float]]
) -> list[str]:
    async with redis.pipeline(transaction=False) as pipe:
        for job_id, _ in batch:
            pipe.hmget(keys.job(job_id), ["status", "task", "text", "owner", "session"])
        rows = await pipe.execute()
    gone = [job_id for (job_id, _), row in zip(batch, rows, strict=True) if row[0] is None]
    if gone:
        await redis.zrem(keys.job_index, *gone)
    return [
        job_id
        for (job_id, _), (status, task, text, owner, session) in zip(batch, rows, strict=True)
        if status is not None
        and where.matches(job_id, status, task, text or "")
        and where.owner in (None, (owner if owner is not None else session) or "")
    ]


async def load_jobs(redis: Redis, keys: Keys, ids: list[str]) -> list[Job]:
    """These jobs as stored now, in the same order; ids of expired jobs are left out."""
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hgetall(keys.job(job_id))
        rows = await pipe.execute()
    return [Job.from_hash(row) for row in rows if row]


async def task_counts(redis: Redis, keys: Keys) -> list[TaskCounts]:
    """Per-task counters, by task name."""
    raw: Any = await redis.hgetall(keys.task_stats)
    tasks: dict[str, dict[str, float]] = {}
    for field, value in raw.items():
        task, _, counter = str(field).rpartition("|")
        tasks.setdefault(task, {})[counter] = float(value)
    return [_counts(task, tasks[task]) for task in sorted(tasks)]


def _counts(task: str, row: dict[str, float]) -> TaskCounts:
    counts = {name: max(0, int(row.get(name, 0))) for name in TASK_COUNTERS}
    ran = row.get("run_seconds", 0.0)
    mean = ran / counts["succeeded"] if counts["succeeded"] else None
    return TaskCounts(task=task, mean_seconds=mean, **counts)


def totals(counts: list[TaskCounts]) -> TaskCounts:
    """Every task together; the mean run time weighted by each task's successes."""
    summed = {name: sum(getattr(c, name) for c in counts) for name in TASK_COUNTERS}
    ran = sum((c.mean_seconds or 0.0) * c.succeeded for c in counts)
    mean = ran / summed["succeeded"] if summed["succeeded"] else None
    return TaskCounts(task="all tasks", mean_seconds=mean, **summed)
