"""REST limits, enforced in front of the app, before a route reads anything: a request body
larger than COURIER_MAX_BODY_BYTES is 413, and a client over COURIER_RATE_LIMIT requests per
second on /api/* is 429 with `Retry-After`.

A declared Content-Length over the limit is refused before one byte of the body is read; a
chunked body is counted as it arrives and refused when it passes the limit, so at most the limit
is ever held. The connection stays open: the server drops the rest of the body as it comes,
which lets the client read the answer instead of a reset.

Rate limits are per API token (or admin token) when the request carries a valid one, else per
client address, so a client cannot buy itself a fresh budget with made-up tokens. A bucket left
alone long enough to be full again is the same as a new one, so those are dropped, and the
least recently used go first when there are too many.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.sessions.ratelimit import TokenBucket
from backend.settings import Settings
from backend.web.admin import holds_admin_token
from backend.web.callers import is_api_token, token_owner

MAX_BUCKETS = 10_000  # clients seen within about a second; beyond, the longest idle go first


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": "body_too_large", "detail": BodyTooLarge(limit).detail}, 413)


class BodyLimit:
    """413 for a body over `limit` bytes, declared or counted."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await too_large(self.limit)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)  # FastAPI passes an HTTPException on
            return message

        await self.app(scope, receive_within_limit, send)


class RateLimit:
    """429 for a client over `settings.rate_limit` requests per second on /api/*."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.rate = settings.rate_limit
        self.burst = max(1.0, settings.rate_limit)  # one second's worth, and at least one
        self.buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_rate_limited(scope["path"]):
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        bucket = self.bucket(caller_key(self.settings, scope), now)
        if bucket.allow(now):
            await self.app(scope, receive, send)
            return
        wait = bucket.retry_after()
        detail = f"more than {self.rate:g} requests/s; retry in {wait:.2f}s"
        headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        response = JSONResponse({"error": "rate_limited", "detail": detail}, 429, headers)
        await response(scope, receive, send)

    def bucket(self, key: str, now: float) -> TokenBucket:
        """The caller's bucket, made the most recently used; full and surplus ones dropped."""
        bucket = self.buckets.pop(key, None) or TokenBucket(self.rate, self.burst, updated=now)
        refilled = now - self.burst / self.rate  # idle since then: full again
        while self.buckets:
            oldest = next(iter(self.buckets.values()))
            if oldest.updated > refilled and len(self.buckets) < MAX_BUCKETS:
                break
            self.buckets.popitem(last=False)
        self.buckets[key] = bucket
        return bucket


def is_rate_limited(path: str) -> bool:
    """The JSON API: not the pages, health, metrics, docs or static files."""
    return path == "/api" or path.startswith("/api/")


def caller_key(settings: Settings, scope: Scope) -> str:
    """Whose budget a request spends: a valid token's, else its address's."""
    headers = Headers(scope=scope)
    scheme, bearer = get_authorization_scheme_param(headers.get("authorization"))
    admin_header = headers.get("x-admin-token")
    if scheme.lower() == "bearer" and _is_token(settings, bearer):
        return token_owner(bearer)
    if admin_header and holds_admin_token(settings, admin_header):
        return token_owner(admin_header)
    client = scope.get("client")
    return f"address:{client[0] if client else ''}"


def _is_token(settings: Settings, given: str) -> bool:
    return is_api_token(settings, given) or holds_admin_token(settings, given)


def install_limits(app: FastAPI, settings: Settings) -> None:
    """The rate limit goes outermost: a client over it is refused before its body is looked at."""

    async def body_too_large(request: Request, exc: Exception) -> JSONResponse:
        return too_large(settings.max_body_bytes)

    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(RateLimit, settings=settings)
