"""The one admin-token check. When `COURIER_ADMIN_TOKEN` is set, every admin action (pausing,
resuming or crashing consumers, the lab's scenarios, retrying or discarding dead letters), whether
called over REST or from a page, needs that token; when it is unset they are open, and the pages
say so. Holding the token also lets a REST caller see and cancel every job (`callers.py`)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from backend.settings import Settings
from backend.web.deps import SettingsDep
from backend.web.errors import ApiError

# Two ways to present a token, declared as OpenAPI security schemes (either one will do).
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (COURIER_API_TOKENS) or the admin token (COURIER_ADMIN_TOKEN)",
)
admin_header_scheme = APIKeyHeader(
    name="X-Admin-Token",
    auto_error=False,
    scheme_name="adminToken",
    description="The admin token (COURIER_ADMIN_TOKEN)",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
AdminHeaderDep = Annotated[str | None, Security(admin_header_scheme)]


def is_admin(settings: Settings, token: str | None) -> bool:
    """Compares in constant time, so the token cannot be guessed byte by byte."""
    expected = settings.admin_token
    if expected is None:
        return True
    return hmac.compare_digest((token or "").encode(), expected.encode())


def holds_admin_token(settings: Settings, *given: str | None) -> bool:
    """An admin token is set and one of `given` is it (an unset one makes nobody admin)."""
    return settings.admin_token is not None and any(
        token is not None and is_admin(settings, token) for token in given
    )


def controls_open(settings: Settings) -> bool:
    return settings.admin_token is None


def unauthorized(detail: str) -> ApiError:
    """A 401, with the `WWW-Authenticate` challenge HTTP asks of it."""
    return ApiError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def require_admin(settings: SettingsDep, bearer: BearerDep, x_admin_token: AdminHeaderDep) -> None:
    """REST: `Authorization: Bearer <token>` or `X-Admin-Token: <token>`."""
    if controls_open(settings):
        return
    if not holds_admin_token(settings, bearer.credentials if bearer else None, x_admin_token):
        raise unauthorized("this control needs the admin token")


AdminDep = Annotated[None, Depends(require_admin)]
