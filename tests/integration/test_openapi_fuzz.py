"""The OpenAPI schema is exact: schemathesis, with every default check and all its phases
(examples, coverage, fuzzing, stateful), generates requests from the schema against the real app
on a real Redis, and finds nothing. Valid requests must be accepted, invalid ones refused, every
status and header returned must be documented, unknown methods must be 405 with `Allow`, and an
operation that declares a token must refuse a request without one.

Twice: as deployed by default (no tokens), and with API and admin tokens, calling as the admin
so that admin-only operations are reached too. A fixed seed and deterministic generation make a
run repeatable; the budget keeps both runs well under a minute.

It runs schemathesis's own command line (`st run`), the fuzzer as users run it: its pytest
plugin's `from_fixture` does not work on pytest 9 (it sets `node._nodeid`, which is gone).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis as sync_redis

from backend.procs.redis_server import RedisServer
from tests.processes import Stack

pytestmark = pytest.mark.slow

ADMIN = "fuzz-admin-token-0123456789"
API_TOKEN = "fuzz-api-token-0123456789"
EXAMPLES = 20  # per operation, in the fuzzing phase
CONFIGS = {
    "open": ({}, []),
    "tokens": (
        {"api_tokens": API_TOKEN, "admin_token": ADMIN},
        ["--header", f"Authorization: Bearer {ADMIN}"],
    ),
}


@pytest.fixture
def fresh_redis(redis_server: RedisServer) -> str:
    client = sync_redis.Redis(host=redis_server.host, port=redis_server.port)
    client.flushall()
    client.close()
    return redis_server.url


# About 20 s alone; several times that on 2 CPUs beside the suite's other process-heavy tests.
@pytest.mark.timeout(200)
@pytest.mark.parametrize("deployment", sorted(CONFIGS))
def test_schemathesis_finds_nothing(fresh_redis: str, tmp_path: Path, deployment: str) -> None:
    settings, options = CONFIGS[deployment]
    stack = Stack(fresh_redis, tmp_path, {"heartbeat_interval": "0.2", **settings})
    try:
        base = stack.web()  # no worker: jobs stay queued, which the API allows
        run = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json"),
                *("--max-examples", str(EXAMPLES)),
                *("--generation-deterministic", "--no-color"),
                *options,
            ],
            cwd=tmp_path,  # its cache stays out of the checkout
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        stack.stop()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout.split("SUMMARY")[-1]
