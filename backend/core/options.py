"""How a job is to run, as its sender chooses: a time limit, a start time, a priority and an
idempotency key. One model for the WebSocket `send` and `POST /api/jobs`, so both refuse the same
bad values with the same specific error codes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

DEFAULT_PRIORITY = 5
MAX_DELAY = 366 * 86400.0  # a year: anything later is more likely a unit mistake than a plan
LATEST_AT = 4102444800.0  # 2100-01-01
NOW_SLACK = 0.05  # a start time this close to now is now


class JobOptions(BaseModel):
    timeout: float | None = Field(
        default=None,
        gt=0,
        le=86400,
        description="Seconds one attempt may run; an attempt that runs longer is stopped and "
        "fails with an error starting `timeout:` (and is retried like any failure). Unset: the "
        "task's own limit, else COURIER_JOB_TIMEOUT.",
    )
    delay: float | None = Field(
        default=None,
        ge=0,
        le=MAX_DELAY,
        description="Seconds from now before the job may start. Not together with `at`.",
    )
    at: float | None = Field(
        default=None,
        ge=0,
        le=LATEST_AT,
        description="Unix time before which the job may not start (a past time: now). Not "
        "together with `delay`.",
    )
    priority: int = Field(
        default=DEFAULT_PRIORITY,
        ge=0,
        le=9,
        description="0-9, higher first; first in, first out within a priority.",
    )
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Idempotency key: while a job sent with this key is kept, another send with "
        "it runs nothing and is answered with the first job's id and `duplicate: true`.",
    )

    @model_validator(mode="after")
    def _one_start_time(self) -> JobOptions:
        if self.delay is not None and self.at is not None:
            raise PydanticCustomError(
                "delay_and_at", "give either delay (seconds from now) or at (unix time), not both"
            )
        return self

    def run_at(self, now: float | None = None) -> float | None:
        """When the job may start, or None for at once."""
        now = time.time() if now is None else now
        start = self.at if self.delay is None else now + self.delay
        return start if start is not None and start > now + NOW_SLACK else None

    def options(self) -> JobOptions:
        """Only the options, from a model that adds other fields to them."""
        return JobOptions(
            timeout=self.timeout, delay=self.delay, at=self.at, priority=self.priority, key=self.key
        )


# The error code for a bad value of each option, and for both start times at once.
OPTION_CODES = {
    "timeout": "invalid_timeout",
    "delay": "invalid_delay",
    "at": "invalid_at",
    "priority": "invalid_priority",
    "key": "invalid_key",
    "cron": "invalid_cron",  # a schedule's (backend.core.schedules)
}
CONFLICT_CODE = "delay_and_at"


def option_error_code(errors: Sequence[Any]) -> str | None:
    """The specific code of the first validation error about an option, if any is."""
    for error in errors:
        if error["type"] == CONFLICT_CODE:
            return CONFLICT_CODE
        fields = [part for part in error["loc"] if part in OPTION_CODES]
        if fields:
            return OPTION_CODES[str(fields[0])]
    return None
