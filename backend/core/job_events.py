"""What a job's sender is told, and each event's step: a number that grows through a job's life,
so a session takes each of a job's events at most once and never an older one after a newer.

`runs` counts the times a worker started the job (a take-over or a hand-back starts it again).
Within run r: started is r*1000, progress r*1000+1..997, a failed attempt r*1000+998, the end
r*1000+999. `accepted` is step 0.
"""

from __future__ import annotations

from typing import Any

from backend.core.events import encode
from backend.core.jobs import Job, JobStatus

STARTED, FAILED, END = 0, 998, 999


def step(runs: int, within: int) -> int:
    return runs * 1000 + within


def progress_step(runs: int, fraction: float) -> int:
    return step(runs, 1 + min(996, int(fraction * 996)))


def accepted(job_id: str, ref: object, run_at: float | None = None) -> str:
    return encode(accepted_event(job_id, ref, run_at))


def accepted_event(
    job_id: str, ref: object, run_at: float | None = None, *, duplicate: bool = False
) -> dict[str, Any]:
    """`run_at` for a delayed job; `duplicate` when an earlier job holds the send's key."""
    event: dict[str, Any] = {"type": "accepted", "ref": ref, "id": job_id, "mode": "queue"}
    if run_at is not None:
        event["run_at"] = run_at
    if duplicate:
        event["duplicate"] = True
    return event


def started(job_id: str, consumer: str, attempt: int) -> str:
    return encode({"type": "started", "id": job_id, "consumer": consumer, "attempt": attempt})


def progress(job_id: str, fraction: float) -> str:
    return encode({"type": "progress", "id": job_id, "progress": fraction})


def result(job_id: str, ref: object, consumer: str, value: Any) -> str:
    event = {"type": "result", "id": job_id, "ref": ref, "mode": "queue", "consumer": consumer}
    return encode({**event, "result": value})


def failed(
    job_id: str, ref: object, error: str, attempt: int, retry_in: float | None = None
) -> str:
    event: dict[str, Any] = {"type": "failed", "id": job_id, "ref": ref, "mode": "queue"}
    event |= {"error": error, "attempt": attempt, "final": retry_in is None}
    if retry_in is not None:
        event["retry_in"] = retry_in
    return encode(event)


def cancelled(job_id: str) -> str:
    return encode({"type": "cancelled", "id": job_id})


def ending(job: Job) -> str | None:
    """The final event of a job that has ended, built from what is stored (a recovery after the
    process that should have sent it died); None while it has not ended."""
    if job.status is JobStatus.SUCCEEDED:
        return result(job.id, job.ref, job.worker or "", job.result)
    if job.status is JobStatus.DEAD:
        return failed(job.id, job.ref, job.error or "", job.attempts)
    if job.status is JobStatus.CANCELLED:
        return cancelled(job.id)
    return None


JOB_KINDS = frozenset({"accepted", "started", "progress", "result", "failed", "cancelled"})


def job_of(event: str) -> tuple[str, bool] | None:
    """(job id, whether it is the job's last event) of a queue job's event, None for any other.
    Read without parsing: a web process looks at every event it passes on. Quotes inside
    string values are escaped, so these markers only match the event's own fields."""
    at = event.find('"type":"')
    if at < 0 or '"mode":"pubsub"' in event:
        return None
    kind = event[at + 8 : event.find('"', at + 8)]
    start = event.find('"id":"')
    if kind not in JOB_KINDS or start < 0:
        return None
    job_id = event[start + 6 : event.find('"', start + 6)]
    final = kind in ("result", "cancelled") or (kind == "failed" and '"final":true' in event)
    return job_id, final
