"""Per-task rate limits across every worker, written as `<count>/<unit>` (`100/s`, `30/m`,
`1000/h`, `10/5s`). The limit is kept in Redis by the TAKE script; this module turns the
written form into numbers and says exactly what is wrong with a bad one."""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
UNITS |= {"h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$")
MAX_LIMIT = 1_000_000


@dataclass(frozen=True)
class Rate:
    limit: int  # starts allowed ...
    period: float  # ... in any window of this many seconds

    def __str__(self) -> str:
        return f"{self.limit}/{self.period:g}s"


def parse_rate(text: str) -> Rate:
    """The rate written in `text`, or ValueError saying what a valid one looks like."""
    match = _RATE.match(text.lower())
    if match is None or match.group(3) not in UNITS:
        raise ValueError(f"rate {text!r} is not <count>/<unit>, e.g. 100/s, 30/m, 10/5s, 1000/h")
    count, multiple, unit = match.groups()
    limit, period = int(count), float(multiple or 1) * UNITS[unit]
    if not 1 <= limit <= MAX_LIMIT or period <= 0:
        raise ValueError(f"rate {text!r}: count must be 1-{MAX_LIMIT} per a positive period")
    return Rate(limit, period)


def rate_args(rates: dict[str, Rate]) -> list[str | int | float]:
    """The rates as TAKE's trailing arguments: task, limit, period, per task."""
    ordered = sorted(rates.items())
    return [item for task, rate in ordered for item in (task, rate.limit, rate.period)]


def task_rates(declared: dict[str, str | None], overrides: dict[str, str]) -> dict[str, Rate]:
    """Each task's rate: the setting's if it names the task, else the task's own `rate`."""
    written = {task: rate for task, rate in declared.items() if rate} | overrides
    return {task: parse_rate(rate) for task, rate in written.items()}
