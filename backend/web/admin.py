"""The one admin-token check. When `COURIER_ADMIN_TOKEN` is set, every control that pauses,
resumes or crashes consumers, whether called over REST or from a page, needs that token;
when it is unset they are open, and the pages say so."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from backend.settings import Settings
from backend.web.deps import SettingsDep
from backend.web.errors import ApiError


def is_admin(settings: Settings, token: str | None) -> bool:
    """Compares in constant time, so the token cannot be guessed byte by byte."""
    expected = settings.admin_token
    if expected is None:
        return True
    return hmac.compare_digest((token or "").encode(), expected.encode())


def controls_open(settings: Settings) -> bool:
    return settings.admin_token is None


def require_admin(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    x_admin_token: Annotated[str | None, Header()] = None,
) -> None:
    """REST: `Authorization: Bearer <token>` or `X-Admin-Token: <token>`."""
    given = x_admin_token or (authorization or "").removeprefix("Bearer ").strip()
    if not is_admin(settings, given):
        raise ApiError(401, "unauthorized", "this control needs the admin token")


AdminDep = Annotated[None, Depends(require_admin)]
