"""The one Jinja environment of the web process; autoescaping is on for every .html template."""

from __future__ import annotations

import math
import time

from fastapi.templating import Jinja2Templates

from backend.core.jobs import Job
from frontend.assets import templates_dir
from frontend.charts import quantity

TEMPLATES_DIR = templates_dir()

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def clock(ts: float) -> str:
    """A message time as HH:MM (UTC); the exact instant goes in the datetime attribute."""
    return time.strftime("%H:%M", time.gmtime(ts))


def iso_time(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def clock_seconds(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))


def seconds(value: float) -> str:
    """A duration for people: 0.042 s, 3.10 s, 2 min 5 s."""
    if value < 1:
        return f"{value:.3f} s"
    if value < 60:
        return f"{value:.2f} s"
    return f"{int(value // 60)} min {int(value % 60)} s"


def countdown(left: float) -> str:
    """Time left for people, as static/js/countdown.js rewrites it every second: "in 42 s",
    "in 3 min 5 s", "in 2 h 10 min", then "now"."""
    whole = math.ceil(left)
    if whole <= 0:
        return "now"
    if whole < 60:
        return f"in {whole} s"
    if whole < 3600:
        return f"in {whole // 60} min {whole % 60} s"
    return f"in {whole // 3600} h {whole % 3600 // 60} min"


def limit(value: float) -> str:
    """A time limit as given: 5 s, 0.5 s, 90 s."""
    return f"{value:g} s"


def run_time(job: Job) -> str:
    """How long the job ran, or has been running so far."""
    if job.started is None:
        return ""
    end = job.finished if job.finished is not None else time.time()
    return seconds(max(0.0, end - job.started))


templates.env.filters["clock"] = clock
templates.env.filters["clock_seconds"] = clock_seconds
templates.env.filters["seconds"] = seconds
templates.env.filters["run_time"] = run_time
templates.env.filters["quantity"] = quantity
templates.env.filters["iso_time"] = iso_time
templates.env.filters["countdown"] = countdown
templates.env.filters["limit"] = limit
templates.env.globals["now"] = time.time


def render_fragment(name: str, **context: object) -> str:
    """A fragment as a string, for pushing over a WebSocket rather than returning as a response."""
    return templates.get_template(name).render(**context)
