"""The WebSocket Origin check: browsers may only open sockets from pages this server served."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def is_allowed_origin(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """Same-origin or explicitly allowed. No Origin header means a non-browser client: allowed,
    since the check exists to stop other web pages from riding a visitor's browser."""
    if origin is None:
        return True
    if origin in allowed:
        return True
    netloc = urlsplit(origin).netloc
    return bool(netloc) and netloc == host
