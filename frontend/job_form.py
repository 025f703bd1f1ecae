"""The console's submit form as a `send` message, and what the page says once it is answered.

The form checks nothing itself: a value it cannot read as a number is sent as typed, so the page
shows the queue's own error for it (`invalid_timeout`, ...), the same any client would get.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from markupsafe import Markup, escape

from frontend.templating import countdown

NUMBER_OPTIONS = ("priority", "delay", "timeout")


def parse_args(raw: str) -> dict[str, Any]:
    """The Arguments box: empty means no arguments; anything else must be a JSON object."""
    if not raw.strip():
        return {}
    try:
        args = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(args, dict):
        raise ValueError('a JSON object, such as {"seconds": 3}')
    return args


def job_options(form: dict[str, Any]) -> dict[str, Any]:
    """The options the form filled in; an empty box is an option not sent."""
    options: dict[str, Any] = {}
    for name in NUMBER_OPTIONS:
        raw = str(form.get(name, "")).strip()
        if raw:
            options[name] = _number(raw)
    key = str(form.get("key", "")).strip()
    if key:
        options["key"] = key
    return options


def _number(raw: str) -> int | float | str:
    """An int or a finite float when `raw` reads as one, else `raw` itself (refused later)."""
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        value = float(raw)
    except ValueError:
        return raw
    return value if math.isfinite(value) else raw


def accepted_notice(event: dict[str, Any], now: float | None = None) -> Markup:
    """What the page says of an `accepted` answer: queued, delayed until when, or a duplicate
    (with a link to the job that holds the key)."""
    job_id = str(event["id"])
    short = escape(job_id[:12])
    if event.get("duplicate"):
        link = Markup('<a href="/jobs/{}">{}</a>').format(job_id, short)
        return Markup("Duplicate of {} — nothing new runs.").format(link)
    run_at = event.get("run_at")
    if isinstance(run_at, int | float):
        now = time.time() if now is None else now
        clock = time.strftime("%H:%M:%S", time.gmtime(run_at))
        left = Markup('<span data-run-at="{}" data-now="{}">{}</span>').format(
            run_at, now, countdown(run_at - now)
        )
        return Markup("Queued job {}: it starts at {} UTC ({}).").format(short, clock, left)
    return Markup("Queued job {}.").format(short)
