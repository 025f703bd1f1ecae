"""Who is calling the REST API, and which jobs they may see.

With `COURIER_API_TOKENS` set, every /api route needs one of those tokens (or the admin token)
as `Authorization: Bearer`; the pages never do. A caller is known by a name derived from its
token, never the token itself, since that name is stored with each job it creates. A job belongs
to its creator: another caller gets 404 for it, as for a job that does not exist, unless it holds
the admin token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from backend.core.jobs import Job
from backend.settings import Settings
from backend.web.admin import AdminHeaderDep, BearerDep, holds_admin_token, unauthorized
from backend.web.deps import SettingsDep

ANONYMOUS = ""  # with no API tokens configured: every REST caller, and the jobs they create


@dataclass(frozen=True)
class Caller:
    owner: str  # stored as the owner of the jobs this caller creates
    admin: bool = False  # holds the admin token: sees and cancels every job

    def may_see(self, job: Job) -> bool:
        return self.admin or (job.owner or ANONYMOUS) == self.owner

    @property
    def sees_only(self) -> str | None:
        """The owner whose jobs a listing shows this caller; None: everyone's."""
        return None if self.admin else self.owner


def token_owner(token: str) -> str:
    """Stable across restarts and web processes, and useless to anyone who reads it."""
    return "token:" + _digest(token).hex()[:16]


def identify(settings: Settings, bearer: str | None, admin_header: str | None) -> Caller | None:
    """The caller these credentials make; None when /api needs a token and none is valid."""
    admin = holds_admin_token(settings, bearer, admin_header)
    if bearer is not None and is_api_token(settings, bearer):
        return Caller(token_owner(bearer), admin)
    if admin and settings.admin_token is not None:
        return Caller(token_owner(settings.admin_token), admin=True)
    if settings.api_tokens:
        return None
    return Caller(ANONYMOUS)


def is_api_token(settings: Settings, given: str) -> bool:
    """Compares digests in constant time, and against every token, so timing tells nothing."""
    digest = _digest(given)
    found = [hmac.compare_digest(digest, _digest(token)) for token in settings.api_tokens]
    return any(found)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def require_caller(
    settings: SettingsDep, bearer: BearerDep, x_admin_token: AdminHeaderDep
) -> Caller:
    caller = identify(settings, bearer.credentials if bearer else None, x_admin_token)
    if caller is None:
        raise unauthorized("this API needs `Authorization: Bearer <token>` with a valid token")
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
