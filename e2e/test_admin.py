"""With COURIER_ADMIN_TOKEN set, the dead letters page's buttons need the token, as the one admin
check says: without it a row stays and the page says why; with it the row is retried."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from backend.procs.redis_server import RedisServer
from tests.processes import Stack, http_json, wait_until

ADMIN = "e2e-admin-token-0123"


@pytest.fixture
def guarded(e2e_redis: RedisServer, tmp_path: Path) -> Iterator[str]:
    """A web process and a worker of their own, under their own key prefix."""
    settings = {"admin_token": ADMIN, "key_prefix": "e2e-admin:", "max_attempts": "1"}
    stack = Stack(e2e_redis.url, tmp_path, settings)
    try:
        base = stack.web()
        stack.worker()
        yield base
    finally:
        stack.stop()


def dead_job(base: str) -> str:
    body = json.dumps({"task": "fail", "text": "doomed"}).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(base + "/api/jobs", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        job_id = str(json.load(response)["id"])
    wait_until(lambda: http_json(f"{base}/api/jobs/{job_id}")[1]["status"] == "dead", 10, "dead")
    return job_id


def test_dead_letter_buttons_need_the_admin_token(page: Page, guarded: str) -> None:
    job_id = dead_job(guarded)
    page.goto(guarded + "/jobs/dead")
    row = page.get_by_role("table", name="Dead letters").get_by_role("row", name=job_id[:12])
    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status").filter(has_text="need the admin token")).to_be_visible()
    expect(row.get_by_role("button", name="Retry")).to_be_visible()

    page.get_by_label("Admin token").fill(ADMIN)
    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_text(f"{job_id[:12]}: back in the queue")).to_be_visible()
