"""Page routes: full HTML pages, each including the fragments the live socket later refreshes.

Every page answers HEAD as well as GET (`PAGE_METHODS`): FastAPI, unlike Starlette, does not add
HEAD to a GET route by itself, and link checkers and monitors ask with HEAD.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from backend.core.stats import read_status
from backend.web.admin import controls_open
from backend.web.deps import KeysDep, RedisDep, SettingsDep
from frontend.assets import static_dir
from frontend.resume import new_page_session
from frontend.templating import templates

router = APIRouter(include_in_schema=False)

PAGE_METHODS = ["GET", "HEAD"]
FAVICON = static_dir() / "favicon.svg"


@router.api_route("/", methods=PAGE_METHODS, response_class=HTMLResponse)
async def home(
    request: Request, redis: RedisDep, keys: KeysDep, settings: SettingsDep
) -> HTMLResponse:
    status = await read_status(redis, keys, settings.heartbeat_timeout)
    context = {
        "status": status,
        "controls_open": controls_open(settings),
        "active": "home",
        "page_session": new_page_session(),
    }
    return templates.TemplateResponse(request, "index.html", context)


@router.api_route("/favicon.ico", methods=PAGE_METHODS, response_class=FileResponse)
async def favicon() -> FileResponse:
    """Browsers ask for /favicon.ico whatever the page links to: the same icon, not a 404."""
    return FileResponse(FAVICON, media_type="image/svg+xml")
