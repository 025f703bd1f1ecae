"""/docs and /redoc load everything from the server itself: they work offline, with no CDN."""

from __future__ import annotations

import json
import re
import urllib.request
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from tests.processes import Stack

FETCHED = {"src", "href", "spec-url"}  # <redoc spec-url=...> is fetched by ReDoc itself
ABSOLUTE_URL = re.compile(r"https?://[^\s\"'<>)]+")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in FETCHED and value]


def get(url: str) -> tuple[int, str, str, dict[str, str]]:
    """Status, content type, body and headers of a GET."""
    with urllib.request.urlopen(url, timeout=5) as response:
        body = response.read().decode("utf-8", "replace")
        return response.status, response.headers.get_content_type(), body, dict(response.headers)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_only_from_the_server(stack: Stack, path: str) -> None:
    base = stack.web()
    status, content_type, html, headers = get(base + path)
    assert (status, content_type) == (200, "text/html")

    parser = Links()
    parser.feed(html)
    assert parser.urls, f"{path} links no assets at all"
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), f"{path} loads {url}"
        assert get(urljoin(base, url))[0] == 200, f"{path}: {url} is not served"

    server = urlsplit(base).netloc
    elsewhere = [u for u in ABSOLUTE_URL.findall(html) if urlsplit(u).netloc != server]
    assert elsewhere == [], f"{path} refers to other hosts"
    assert "img-src 'self'" in headers["content-security-policy"]


def test_openapi_schema_and_oauth2_redirect(stack: Stack) -> None:
    base = stack.web()
    status, content_type, body, _ = get(base + "/openapi.json")
    assert (status, content_type) == (200, "application/json")
    schema = json.loads(body)
    assert schema["info"]["title"] == "Courier"
    assert not any(p in schema["paths"] for p in ("/docs", "/redoc", "/docs/oauth2-redirect"))
    assert get(base + "/docs/oauth2-redirect")[:2] == (200, "text/html")
