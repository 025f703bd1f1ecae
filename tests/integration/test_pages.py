"""The pages over real HTTP from a real web process: HEAD, the favicon, a clean log, and the
dashboard's axes."""

from __future__ import annotations

import http.client
import re
import time
from urllib.parse import urlsplit

import redis as sync_redis

from backend.core.keys import Keys
from backend.core.stats import Sample
from tests.processes import Stack

PAGES = [
    "/",
    "/chat",
    "/chat/lobby",
    "/chat/lobby?name=ann",
    "/dashboard",
    "/jobs",
    "/jobs?status=dead&q=x&period=1h",
    "/jobs/dead",
    "/jobs/scheduled",
]


def fetch(base: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request, redirects not followed: status, headers (lower-case names) and body."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def test_every_page_answers_head_with_headers_only(stack: Stack) -> None:
    base = stack.web()
    for path in PAGES:
        status, headers, body = fetch(base, path, "HEAD")
        assert (status, body) == (200, b""), path
        assert headers["content-type"].startswith("text/html"), path
    status, headers, body = fetch(base, "/chat/go?room=lobby&name=ann", "HEAD")
    assert (status, headers["location"], body) == (303, "/chat/lobby?name=ann", b"")


def test_the_favicon_is_served_and_no_page_load_is_a_404(stack: Stack) -> None:
    base = stack.web()
    for path in PAGES:
        status, _, body = fetch(base, path)
        assert status == 200, path
        html = body.decode()
        assert 'rel="icon"' in html, path
        for asset in set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html)):
            assert fetch(base, asset)[0] == 200, asset
        fetch(base, "/favicon.ico")  # what a browser asks for besides the page's own links
    status, headers, body = fetch(base, "/favicon.ico")
    assert status == 200
    assert headers["content-type"].startswith("image/svg+xml")
    assert body.startswith(b"<svg")
    assert fetch(base, "/favicon.ico", "HEAD")[::2] == (200, b"")
    log = stack.roles[0].output()
    assert '"GET /' in log, "the access log is on"
    assert '" 404 ' not in log, log


def test_the_dashboard_has_a_time_axis_a_scale_and_numbers_for_people(stack: Stack) -> None:
    base = stack.web()
    keys = Keys("courier:")
    client = sync_redis.Redis.from_url(stack.redis_url)
    slow = Sample(
        t=time.time() - 30, depth=3, in_flight=1, succeeded=9, rate=0.5, p50=7.13, p95=7.2
    )
    client.lpush(keys.samples, slow.model_dump_json())
    client.close()
    status, _, body = fetch(base, "/dashboard")
    html = body.decode()
    assert status == 200
    for label in ("-5 min", "-4 min", "-3 min", "-2 min", "-1 min", "now"):
        assert f">{label}</li>" in html, label
    assert "p50: 7.13 s" in html
    assert "p95: 7.2 s" in html
    assert "waiting: 3 jobs" in html
    assert "e+0" not in html
    assert re.search(r'class="scale"[^>]*>8 s<', html), "the latency chart's scale"


def test_the_dashboard_counts_jobs_per_task_with_a_total(stack: Stack) -> None:
    base = stack.web()
    keys = Keys("courier:")
    client = sync_redis.Redis.from_url(stack.redis_url)
    client.hset(
        keys.task_stats,
        mapping={
            "uppercase|succeeded": 3,
            "uppercase|run_seconds": 0.3,
            "fail|failed": 6,
            "fail|dead": 2,
            "reverse|running": 1,
            "reverse|succeeded": 1,
            "reverse|run_seconds": 0.5,
        },
    )
    client.close()
    status, _, body = fetch(base, "/dashboard")
    assert status == 200
    rows = {
        row[0]: row[1:]
        for row in (
            re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", tr)
            for tr in re.findall(r"<tr>(.*?)</tr>", body.decode())
        )
        if row
    }
    # running, succeeded, failed attempts, dead, cancelled, mean run time
    assert rows["uppercase"][:5] == ["0", "3", "0", "0", "0"]
    assert rows["fail"][:5] == ["0", "0", "6", "2", "0"]
    assert rows["all tasks"][:5] == ["1", "4", "6", "2", "0"]
    assert rows["all tasks"][5] == "0.200 s", "weighted by successes: (0.3 + 0.5) / 4"
