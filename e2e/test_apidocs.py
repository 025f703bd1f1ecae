"""The API reference renders with the network cut off: Swagger UI and ReDoc come from the server."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_render_offline(page: Page, path: str) -> None:
    elsewhere: list[str] = []
    errors: list[str] = []

    def offline(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS or route.request.url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path)
    expect(page.get_by_role("heading", name=re.compile(r"^\s*Courier"))).to_be_visible()
    expect(page.get_by_text("/api/jobs").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert elsewhere == [], f"{path} tried to load from other hosts"
    assert errors == []
