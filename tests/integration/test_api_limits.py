"""REST limits against a real web process: a body over COURIER_MAX_BODY_BYTES is 413 before it
is read (declared or chunked), and a client over COURIER_RATE_LIMIT on /api/* is 429 with
`Retry-After`, per token when it has a valid one, else per address."""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.processes import Stack

LIMIT = 64 * 1024
RATE = 5
ALICE = "limits-alice-token-0123"
BOB = "limits-bob-token-0123456"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def base(stack: Stack) -> str:
    stack.settings.update(max_body_bytes=str(LIMIT), rate_limit=str(RATE))
    return stack.web()


def fetch(
    base: str,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    source: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Status, headers (lower-case names) and body (decoded when JSON) of one request, from
    `source` (127.0.0.2, say: Linux routes all of 127/8 to loopback) if given."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(
        address.hostname or "",
        address.port,
        timeout=5,
        source_address=(source, 0) if source else None,
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        found = {name.lower(): value for name, value in response.getheaders()}
        raw = response.read()
    finally:
        connection.close()
    is_json = found.get("content-type", "").startswith("application/json")
    return response.status, found, json.loads(raw) if is_json and raw else raw


def as_(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _connect(base: str) -> socket.socket:
    address = urlsplit(base)
    return socket.create_connection((address.hostname, address.port), timeout=5)


def _head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: courier", "Content-Type: application/json"]
    return "\r\n".join([*lines, *headers, "", ""]).encode()


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of one response (with Content-Length, as the app sends)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += sock.recv(65536)
    head, _, body = raw.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body)


def test_a_declared_length_over_the_limit_is_413_before_any_of_the_body_is_sent(
    base: str,
) -> None:
    with _connect(base) as sock:
        sock.sendall(_head("/api/jobs", f"Content-Length: {100 << 20}"))
        status, body = _read_answer(sock)
    assert (status, body["error"]) == (413, "body_too_large"), body
    assert set(body) == {"error", "detail"} and str(LIMIT) in body["detail"]


def test_a_chunked_body_is_refused_once_it_passes_the_limit(base: str) -> None:
    chunk = b" " * 8192
    sent = 0
    with _connect(base) as sock:
        sock.sendall(_head("/api/jobs", "Transfer-Encoding: chunked") + b"1\r\n{\r\n")
        while sent < 256 * LIMIT and not select.select([sock], [], [], 0.02)[0]:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        status, body = _read_answer(sock)
    assert (status, body["error"]) == (413, "body_too_large"), body
    assert sent < 256 * LIMIT, "answered while the body was still coming"


def test_a_body_of_exactly_the_limit_is_taken_one_byte_more_is_not(base: str) -> None:
    job = json.dumps({"text": "fits"}).encode()
    padded = job + b" " * (LIMIT - len(job))
    created = fetch(base, "/api/jobs", "POST", padded, JSON)
    assert (created[0], created[2]["status"]) == (202, "queued")
    over = fetch(base, "/api/jobs", "POST", padded + b" ", JSON)
    assert (over[0], over[2]["error"]) == (413, "body_too_large")


def _until_limited(base: str, headers: dict[str, str]) -> tuple[list[int], dict[str, str], Any]:
    """Statuses of quick GET /api/queue calls up to the first 429, and that 429's headers and
    body."""
    statuses = []
    for _ in range(RATE * 20):
        status, found, body = fetch(base, "/api/queue", headers=headers)
        statuses.append(status)
        if status == 429:
            return statuses, found, body
    raise AssertionError(f"never limited: {statuses}")


def test_a_client_over_the_rate_limit_is_429_with_retry_after(base: str) -> None:
    statuses, found, body = _until_limited(base, {})
    assert statuses[:RATE] == [200] * RATE, "a burst of one second's worth is allowed"
    assert body["error"] == "rate_limited" and f"{RATE} requests/s" in body["detail"]
    wait = int(found["retry-after"])
    assert wait >= 1
    for path in ("/healthz", "/readyz", "/metrics", "/", "/docs", "/openapi.json"):
        assert fetch(base, path)[0] == 200, f"{path} is not rate limited"
    time.sleep(wait)
    assert fetch(base, "/api/queue")[0] == 200, "served again after Retry-After"


def test_each_token_and_each_address_has_its_own_budget(stack: Stack) -> None:
    stack.settings.update(rate_limit=str(RATE), api_tokens=f"{ALICE},{BOB}")
    base = stack.web()
    _until_limited(base, as_(ALICE))
    assert fetch(base, "/api/queue", headers=as_(BOB))[0] == 200, "another token is not limited"
    assert fetch(base, "/api/queue")[0] == 401, "the address is not spent by a token's calls"
    statuses, _, _ = _until_limited(base, as_("made-up-token-0123456789"))
    assert set(statuses[:-1]) == {401}, "an invalid token spends its address's budget"
    elsewhere = fetch(base, "/api/queue", source="127.0.0.2")
    assert elsewhere[0] == 401, "another address is not limited"
