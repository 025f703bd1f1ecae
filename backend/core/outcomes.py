"""What a caller knows about a write whose reply did not come.

A connection that drops after a call was sent leaves its outcome unknown: Redis may have run it.
Only two answers are allowed to reach a client, and both must be true: the write happened, or
it did not (`NotRun`). Callers find out which (a job has its id before it is stored, so it can
be looked up) and say `OutcomeUnknown` only when Redis stays silent past the setting
COURIER_OUTCOME_WAIT.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError


class NotRun(RedisConnectionError):
    """Redis did not run the call: no connection could be had (nothing was sent), or a look-up
    after a lost reply showed that nothing was written. Trying again cannot make a second one."""


class OutcomeUnknown(RedisConnectionError):
    """Redis went away after the call was sent and did not answer a look-up in time."""

    def __init__(self, what: str, waited: float, job_id: str | None = None) -> None:
        super().__init__(f"Redis went away while {what} and did not come back within {waited:g}s")
        self.job_id = job_id
