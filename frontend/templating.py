"""The one Jinja environment of the web process; autoescaping is on for every .html template."""

from __future__ import annotations

import time

from fastapi.templating import Jinja2Templates

from frontend.assets import templates_dir

TEMPLATES_DIR = templates_dir()

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def clock(ts: float) -> str:
    """A message time as HH:MM (UTC); the exact instant goes in the datetime attribute."""
    return time.strftime("%H:%M", time.gmtime(ts))


def iso_time(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


templates.env.filters["clock"] = clock
templates.env.filters["iso_time"] = iso_time


def render_fragment(name: str, **context: object) -> str:
    """A fragment as a string, for pushing over a WebSocket rather than returning as a response."""
    return templates.get_template(name).render(**context)
