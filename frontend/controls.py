"""The lab's pause and resume buttons: plain form POSTs, refused from other sites and, when an
admin token is set, without it. The status socket shows the effect within a second."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from backend.core.control import set_paused
from backend.web.admin import is_admin
from backend.web.deps import KeysDep, RedisDep, SettingsDep
from frontend.guards import require_same_origin
from frontend.templating import render_fragment

router = APIRouter(include_in_schema=False)


@router.post(
    "/ui/consumers/{consumer_id}/{action}",
    response_class=HTMLResponse,
    dependencies=[Depends(require_same_origin)],
)
async def control(
    consumer_id: str,
    action: str,
    request: Request,
    *,
    redis: RedisDep,
    keys: KeysDep,
    settings: SettingsDep,
) -> HTMLResponse:
    form = parse_qs((await request.body())[:4096].decode(errors="replace"))
    token = form.get("token", [""])[0]
    if action not in ("pause", "resume"):
        return _notice(f"unknown action {action!r}", 422)
    if not is_admin(settings, token):
        return _notice("the admin token is missing or wrong", 401)
    await set_paused(redis, keys, consumer_id, action == "pause")
    target = "every consumer" if consumer_id == "*" else consumer_id
    return _notice(f"asked {target} to {action}", 200)


def _notice(text: str, status: int) -> HTMLResponse:
    """Always 200, so htmx shows the words; the JSON API under /api answers with real codes."""
    return HTMLResponse(render_fragment("fragments/lab_notice.html", text=text, ok=status == 200))
