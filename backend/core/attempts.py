"""One attempt at a job, as a worker sees it: the stream entry it was handed, what the START
script told it about the job, and what to store (and tell) once the attempt is over."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One stream entry handed to this worker."""

    entry: str
    job_id: str


@dataclass(frozen=True)
class Started:
    task: str
    text: str
    args: dict[str, Any]
    session: str
    ref: str | int | None
    attempt: int
    runs: int  # how many times a worker started it, this time included
    timeout: float | None = None  # the sender's limit for one attempt, if it gave one


@dataclass(frozen=True)
class Outcome:
    """What to store for one finished attempt: succeeded, retry or dead; and what to tell."""

    delivery: Delivery
    started: Started
    kind: str
    value: str  # result JSON, or the error
    due: float  # when a retry is due
    body: str  # the event for the sender

    @property
    def final(self) -> bool:
        return self.kind != "retry"


def started_from(row: list[Any]) -> Started | None:
    """A row of the START script's reply, as a job to run; None for one with nothing to run."""
    if row[0] != "run":
        return None
    _, task, text, args, session, ref, attempt, runs, timeout = row
    return Started(
        task,
        text,
        json.loads(args),
        session,
        json.loads(ref),
        int(attempt),
        int(runs),
        float(timeout) if timeout else None,
    )
