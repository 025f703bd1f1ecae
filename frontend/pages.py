"""Page routes: full HTML pages, each including the fragments the live socket later refreshes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from backend.core.stats import read_status
from backend.web.admin import controls_open
from backend.web.deps import KeysDep, RedisDep, SettingsDep
from frontend.resume import new_page_session
from frontend.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
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
