"""Where the web process finds its templates and static files.

The repository keeps templates/ and static/ at the top level, beside the packages. A wheel maps
them into this package (pyproject.toml, `[tool.setuptools.package-dir]`), so an installed Courier
has them as frontend/templates/ and frontend/static/ in site-packages, where a path relative to
the repository would point at nothing. `importlib.resources` finds them there. A source checkout
or an editable install (which maps the packages onto the checkout) has no such folders inside
frontend/, so there the repository's own top-level folders are used.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def asset_dir(name: str) -> Path:
    """The folder `name` shipped in the frontend package, else the repository's top-level one.

    Always a real directory on disk (StaticFiles and Jinja's loader need one): pip unpacks
    wheels, so the packaged folder is a plain path whenever it exists.
    """
    packaged = files("frontend") / name
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return REPOSITORY / name


def templates_dir() -> Path:
    return asset_dir("templates")


def static_dir() -> Path:
    return asset_dir("static")
