"""Who may use the REST API and see which jobs, against a real web process: API tokens, the
admin token, jobs that belong to their creator, and the error shapes of refused requests."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import Opener
from tests.processes import Stack, http_json

ADMIN = "access-admin-token-0123"
ALICE = "alice-api-token-0123456"
BOB = "bob-api-token-01234567890"
PAGES = ["/", "/jobs", "/jobs/dead", "/dashboard", "/chat", "/healthz", "/metrics", "/docs"]


def fetch(
    base: str, path: str, method: str = "GET", body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], Any]:
    """One request: status, headers (lower-case names) and the body, decoded when JSON."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        found = {name.lower(): value for name, value in response.getheaders()}
        raw = response.read()
    finally:
        connection.close()
    is_json = found.get("content-type", "").startswith("application/json")
    return response.status, found, json.loads(raw) if is_json and raw else raw


def as_(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def job(base: str, token: str | None, text: str = "x") -> str:
    status, created = http_json(base + "/api/jobs", "POST", {"text": text}, as_(token))
    assert status == 202, created
    return str(created["id"])


def listed(base: str, token: str | None) -> list[str]:
    status, page = http_json(base + "/api/jobs", headers=as_(token))
    assert status == 200, page
    return [j["id"] for j in page["jobs"]]


@pytest.fixture
def tokens(stack: Stack) -> str:
    stack.settings.update(api_tokens=f"{ALICE},{BOB}", admin_token=ADMIN)
    return stack.web()


def test_without_a_valid_token_the_api_is_401(tokens: str) -> None:
    for headers in ({}, as_("not-a-token-of-ours-1234"), {"Authorization": f"Basic {ALICE}"}):
        status, found, body = fetch(tokens, "/api/queue", **headers)
        assert (status, body["error"]) == (401, "unauthorized"), body
        assert found["www-authenticate"] == "Bearer"
    assert (
        fetch(tokens, "/api/jobs", "POST", b"{}", **{"Content-Type": "application/json"})[0] == 401
    )
    for token in (ALICE, BOB, ADMIN):
        assert fetch(tokens, "/api/queue", **as_(token))[0] == 200
    assert fetch(tokens, "/api/tasks", **{"X-Admin-Token": ADMIN})[0] == 200


def test_pages_health_and_metrics_need_no_token(tokens: str) -> None:
    for path in PAGES:
        assert fetch(tokens, path)[0] == 200, path


def test_another_token_cannot_read_or_cancel_a_job(tokens: str) -> None:
    mine = job(tokens, ALICE, "alice's")
    assert http_json(f"{tokens}/api/jobs/{mine}", headers=as_(BOB))[0] == 404
    assert http_json(f"{tokens}/api/jobs/{mine}", "DELETE", headers=as_(BOB))[0] == 404
    assert listed(tokens, BOB) == []
    status, seen = http_json(f"{tokens}/api/jobs/{mine}", headers=as_(ALICE))
    assert (status, seen["status"], seen["text"]) == (200, "queued", "alice's")
    assert listed(tokens, ALICE) == [mine]
    assert "owner" not in seen and "session" not in seen


def test_the_admin_token_sees_and_cancels_every_job(tokens: str) -> None:
    alices, bobs = job(tokens, ALICE), job(tokens, BOB)
    assert set(listed(tokens, ADMIN)) == {alices, bobs}
    assert http_json(f"{tokens}/api/jobs/{bobs}", headers={"X-Admin-Token": ADMIN})[0] == 200
    assert http_json(f"{tokens}/api/jobs/{alices}", "DELETE", headers=as_(ADMIN)) == (
        200,
        {"id": alices, "status": "cancelled"},
    )
    assert http_json(f"{tokens}/api/jobs/{alices}", headers=as_(ALICE))[1]["status"] == "cancelled"


async def test_a_socket_sessions_job_is_404_over_rest_but_not_to_the_admin(
    stack: Stack, ws: Opener
) -> None:
    stack.settings["admin_token"] = ADMIN
    base = stack.web()
    client = await ws(base)
    theirs = await client.job("from a socket")
    anonymous = job(base, None)
    assert http_json(f"{base}/api/jobs/{theirs}")[0] == 404
    assert http_json(f"{base}/api/jobs/{theirs}", "DELETE")[0] == 404
    assert listed(base, None) == [anonymous], "anonymous callers see anonymous jobs only"
    assert http_json(f"{base}/api/jobs/{anonymous}")[1]["status"] == "queued"
    status, seen = http_json(f"{base}/api/jobs/{theirs}", headers=as_(ADMIN))
    assert (status, seen["status"]) == (200, "queued"), "the stranger's DELETE changed nothing"
    assert set(listed(base, ADMIN)) == {theirs, anonymous}


def test_admin_actions_need_the_admin_token_when_it_is_set(tokens: str) -> None:
    dead = "0" * 32  # not a dead letter: the admin gets 404, anyone else 401 first
    for method, path, body in (
        ("POST", f"/api/dead/{dead}/retry", None),
        ("DELETE", f"/api/dead/{dead}", None),
        ("POST", "/api/dead/retry", {"all": True}),
        ("POST", "/api/dead/discard", {"ids": [dead]}),
        ("POST", "/api/consumers/*/pause", None),
    ):
        status, error = http_json(tokens + path, method, body, as_(ALICE))
        assert (status, error["error"]) == (401, "unauthorized"), path
        assert http_json(tokens + path, method, body, as_(ADMIN))[0] in (200, 404), path
    http_json(tokens + "/api/consumers/*/resume", "POST", None, as_(ADMIN))


def test_a_dead_letter_page_action_needs_the_admin_token(tokens: str) -> None:
    origin = {"Origin": tokens, "Content-Type": "application/x-www-form-urlencoded"}
    status, found, body = fetch(tokens, "/ui/dead", "POST", b"action=retry&all=1", **origin)
    assert (status, found.get("hx-reswap")) == (200, "none")
    assert b"need the admin token" in body
    with_token = f"action=retry&all=1&token={ADMIN}".encode()
    assert b"need the admin token" not in fetch(tokens, "/ui/dead", "POST", with_token, **origin)[2]


@pytest.mark.parametrize("path", ["/api/jobs", "/api/dead/retry"])
def test_an_unparsable_body_is_400_in_the_error_shape(stack: Stack, path: str) -> None:
    base = stack.web()
    status, _, body = fetch(
        base, path, "POST", b'{"text": ', **{"Content-Type": "application/json"}
    )
    assert (status, body["error"]) == (400, "invalid_json")
    assert set(body) == {"error", "detail"} and "JSON" in body["detail"]


def test_a_method_the_path_does_not_take_is_405_with_allow(stack: Stack) -> None:
    base = stack.web()
    for method, path, allow in (
        ("PUT", "/api/jobs/abc", "GET, DELETE"),  # every route of the path, not the first's
        ("PATCH", "/api/jobs", "GET, POST"),
        ("PUT", "/api/dead/retry", "POST"),  # not read as the dead job "retry"
        ("POST", "/api/queue", "GET"),
        ("DELETE", "/jobs", "GET, HEAD"),
    ):
        status, found, body = fetch(base, path, method)
        assert (status, found["allow"], body["error"]) == (405, allow, "method_not_allowed")


def test_an_unknown_path_is_404_in_the_error_shape(stack: Stack) -> None:
    status, _, body = fetch(stack.web(), "/api/nothing-here")
    assert (status, body["error"]) == (404, "not_found")
