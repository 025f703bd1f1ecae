"""Cross-site request protection for the pages' state-changing POSTs.

A form on another site can make a visitor's browser POST here; browsers always say where such a
request comes from (`Origin`), so the pages' POST routes accept only their own origin.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from backend.web.deps import app_state
from backend.web.origin import is_allowed_origin


def require_same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    allowed = app_state(request)["settings"].allowed_origins
    if origin is None or not is_allowed_origin(origin, request.headers.get("host"), allowed):
        raise HTTPException(403, "cross-site request refused")
