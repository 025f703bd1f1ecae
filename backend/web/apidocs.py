"""The interactive API reference (Swagger UI at /docs, ReDoc at /redoc) from vendored files.

FastAPI's built-in docs pages load Swagger UI and ReDoc from a CDN (jsDelivr), ReDoc's fonts from
Google and both favicons from fastapi.tiangolo.com, so the nav's "API" link is a blank page
offline and breaks the rule that nothing in the browser loads from a CDN. The app is built with
`docs_url=None, redoc_url=None` and these routes serve the same pages with every asset under
/static/vendor/ (static/vendor/README.md lists the versions and checksums).

ReDoc's sidebar footer also shows an <img> from cdn.redoc.ly that no option turns off; the
Content-Security-Policy below keeps the browser from fetching it (ReDoc hides it on error) and
from loading anything else off-site from these two pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from backend.web.errors import ApiError

SWAGGER_JS = "/static/vendor/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "/static/vendor/swagger-ui/swagger-ui.css"
REDOC_JS = "/static/vendor/redoc/redoc.standalone.js"
FAVICON = "/static/vendor/swagger-ui/favicon-32x32.png"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"

# Everything from this server only; scripts and styles may still be inline as the two UIs need
# (and eval for their schema validators, blob: workers for ReDoc's search).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:"
)

router = APIRouter(include_in_schema=False)


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI for the app's OpenAPI schema."""
    app: FastAPI = request.app
    root = _root_path(request)
    # No validator badge: it is an <img> from validator.swagger.io (BaseLayout omits it anyway).
    parameters: dict[str, Any] = {"validatorUrl": None, **(app.swagger_ui_parameters or {})}
    page = get_swagger_ui_html(
        openapi_url=root + _openapi_url(app),
        title=f"{app.title} - Swagger UI",
        swagger_js_url=root + SWAGGER_JS,
        swagger_css_url=root + SWAGGER_CSS,
        swagger_favicon_url=root + FAVICON,
        oauth2_redirect_url=root + OAUTH2_REDIRECT,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=parameters,
    )
    return _restricted(page)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc for the app's OpenAPI schema, without Google fonts."""
    app: FastAPI = request.app
    root = _root_path(request)
    page = get_redoc_html(
        openapi_url=root + _openapi_url(app),
        title=f"{app.title} - ReDoc",
        redoc_js_url=root + REDOC_JS,
        redoc_favicon_url=root + FAVICON,
        with_google_fonts=False,
    )
    return _restricted(page)


def _root_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _openapi_url(app: FastAPI) -> str:
    if not app.openapi_url:
        raise ApiError(404, "not_found", "the OpenAPI schema is turned off")
    return app.openapi_url


def _restricted(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
