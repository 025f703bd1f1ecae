"""The REST API's one error shape: `{"error": <code>, "detail": <what was wrong>}` with a
fitting status code, for our own errors, invalid requests and Redis outages alike."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from backend.core.options import option_error_code
from backend.core.outcomes import NotRun, OutcomeUnknown
from backend.core.rejected import Rejected


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


class ErrorBody(BaseModel):
    error: str
    detail: str


class RedisDownBody(ErrorBody):
    id: str | None = Field(
        default=None, description="With `outcome_unknown` from POST /api/jobs: the job's id"
    )


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def error(description: str, **extra: Any) -> dict[str, Any]:
    """One documented error response, in the one error shape."""
    return {"model": ErrorBody, "description": description, **extra}


CHALLENGE = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: error(
        "A token is needed (COURIER_API_TOKENS is set) and none valid was given", headers=CHALLENGE
    ),
}
ERRORS: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    404: error("No such job"),
    422: error("Invalid request"),
    503: {
        "model": RedisDownBody,
        "description": "`unavailable`: Redis does not answer and nothing was changed; "
        "`outcome_unknown`: Redis went away after the call reached it",
    },
}
ADMIN_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: error(
        "The admin token is needed (COURIER_ADMIN_TOKEN is set), or a valid API token",
        headers=CHALLENGE,
    ),
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {  # a route with a JSON body and no id
    400: error("The body is not JSON (`invalid_json`)"),
    **UNAUTHORIZED,
    422: ERRORS[422],
    503: ERRORS[503],
}


def rejected(exc: Rejected, status: int = 422) -> ApiError:
    """A request the core refused, as the REST error it becomes."""
    return ApiError(status, exc.code, exc.detail)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse({"error": exc.code, "detail": exc.detail}, exc.status, exc.headers)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if any(problem["type"] == "json_invalid" for problem in exc.errors()):
            return JSONResponse({"error": "invalid_json", "detail": _json_problem(exc)}, 400)
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"] if p != "body") or "body"
            problems.append(f"{where}: {error['msg']}")
        code = option_error_code(exc.errors()) or "invalid_request"
        return JSONResponse({"error": code, "detail": "; ".join(dict.fromkeys(problems))}, 422)

    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(redis_down_body(request.method, exc), 503)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(RedisError, redis_down)
    app.add_exception_handler(HTTPException, http_error)


def redis_down_body(method: str, exc: Exception) -> dict[str, str]:
    """`unavailable` only when it is true that nothing was changed (see `core.outcomes`)."""
    if isinstance(exc, OutcomeUnknown):
        body = {"error": "outcome_unknown", "detail": f"{exc}; it may have been done"}
        return body | ({"id": exc.job_id} if exc.job_id else {})
    if isinstance(exc, NotRun) or method in {"GET", "HEAD"}:
        detail = f"Redis is unavailable ({exc}); nothing was changed, try again"
        return {"error": "unavailable", "detail": detail}
    detail = f"Redis went away while this was carried out ({exc}); it may have been done"
    return {"error": "outcome_unknown", "detail": detail}


def _json_problem(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    reason = first.get("ctx", {}).get("error", first["msg"])
    return f"the body is not valid JSON ({reason})"


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (no such path, a method the path does not take, a page guard's
    refusal) in the one error shape; a 405 lists in `Allow` every method the path takes."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    body = {"error": code, "detail": str(exc.detail)}
    return JSONResponse(body, exc.status_code, headers)


def allowed_methods(request: Request) -> list[str]:
    """Starlette's 405 names the methods of the first route that matched the path only; a path
    served by several routes (GET and DELETE of a job) takes the methods of all of them, so
    each method is tried against the routes, in a copy of the request's scope."""
    allowed = []
    for method in METHODS:
        probe = {**request.scope, "method": method, "fastapi": {}}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed
