"""The REST API's one error shape: `{"error": <code>, "detail": <what was wrong>}` with a
fitting status code, for our own errors, invalid requests and Redis outages alike."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import RedisError

from backend.core.rejected import Rejected


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class ErrorBody(BaseModel):
    error: str
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such job"},
    422: {"model": ErrorBody, "description": "Invalid request"},
    503: {"model": ErrorBody, "description": "Redis unavailable"},
}


def rejected(exc: Rejected, status: int = 422) -> ApiError:
    """A request the core refused, as the REST error it becomes."""
    return ApiError(status, exc.code, exc.detail)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse({"error": exc.code, "detail": exc.detail}, exc.status)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"] if p != "body") or "body"
            problems.append(f"{where}: {error['msg']}")
        return JSONResponse({"error": "invalid_request", "detail": "; ".join(problems)}, 422)

    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        detail = f"Redis is unavailable ({exc}); nothing was changed, try again"
        return JSONResponse({"error": "unavailable", "detail": detail}, 503)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(RedisError, redis_down)
