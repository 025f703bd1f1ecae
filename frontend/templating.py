"""The one Jinja environment of the web process; autoescaping is on for every .html template."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES_DIR)


def render_fragment(name: str, **context: object) -> str:
    """A fragment as a string, for pushing over a WebSocket rather than returning as a response."""
    return templates.get_template(name).render(**context)
