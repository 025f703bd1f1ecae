"""A job as stored in Redis (one hash per job) and as the REST API shows it."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    QUEUED = "queued"  # in the stream, waiting for a worker
    RUNNING = "running"  # a worker holds it
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # an attempt failed; waiting for its retry
    DEAD = "dead"  # every attempt failed; in the dead-letter set
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED)


class AttemptError(BaseModel):
    attempt: int
    error: str


class Job(BaseModel):
    id: str
    task: str
    text: str
    args: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    worker: str | None = None
    progress: float | None = None
    created: float
    started: float | None = None
    finished: float | None = None
    retry_at: float | None = None
    priority: int = 5  # 0-9, higher first
    timeout: float | None = None  # the sender's limit for one attempt, if it gave one
    run_at: float | None = None  # when a job sent with `delay` or `at` may start
    limited_until: float | None = None  # while its task's rate limit holds it back
    result: Any = None
    error: str | None = None
    errors: list[AttemptError] = []
    ref: str | int | None = None
    # The session that created it: kept out of every API answer, since a session id is the key
    # to that session's events.
    owner: str | None = Field(default=None, exclude=True)
    runs: int = Field(default=0, exclude=True)  # times a worker started it

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)

    @classmethod
    def from_hash(cls, row: dict[str, str]) -> Job:
        errors = sorted(
            (
                AttemptError(attempt=int(k.split(":", 1)[1]), error=v)
                for k, v in row.items()
                if k.startswith("error:")
            ),
            key=lambda e: e.attempt,
        )
        return cls(
            id=row["id"],
            task=row["task"],
            text=row["text"],
            args=json.loads(row.get("args") or "{}"),
            status=JobStatus(row["status"]),
            attempts=int(row.get("attempts", 0)),
            max_attempts=int(row.get("max_attempts", 1)),
            worker=row.get("worker") or None,
            progress=_number(row.get("progress")),
            created=float(row["created"]),
            started=_number(row.get("started")),
            finished=_number(row.get("finished")),
            retry_at=_number(row.get("retry_at")) if row["status"] == JobStatus.FAILED else None,
            priority=int(row.get("priority") or 5),
            timeout=_number(row.get("timeout")),
            run_at=_number(row.get("run_at")),
            limited_until=_number(row.get("limited")),
            result=json.loads(row["result"]) if "result" in row else None,
            error=row.get("error"),
            errors=errors,
            ref=json.loads(row.get("ref") or "null"),
            owner=(row["owner"] if "owner" in row else row.get("session")) or None,
            runs=int(row.get("runs") or 0),
        )


def _number(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None
