"""E2E fixtures: the real stack (own Redis, web, consumers) and Chromium as a person uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.procs.redis_server import RedisServer
from tests.processes import Stack, start_test_redis

SYSTEM_CHROMIUM = Path(os.environ.get("COURIER_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """The system Chromium when there is one (Playwright cannot download browsers everywhere)."""
    args = dict(browser_type_launch_args)
    if SYSTEM_CHROMIUM.exists():
        args["executable_path"] = str(SYSTEM_CHROMIUM)
    args["args"] = [
        *args.get("args", []),
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ]
    return args


@pytest.fixture(scope="session")
def e2e_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_test_redis(tmp_path_factory.mktemp("e2e-redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def e2e_stack(e2e_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        e2e_redis.url,
        tmp_path_factory.mktemp("e2e-logs"),
        {
            "heartbeat_interval": "0.2",
            "heartbeat_timeout": "1",
            "retry_backoff": "0.05",
            "visibility_timeout": "2",
        },
    )
    stack.base_url = stack.web()  # type: ignore[attr-defined]
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def base_url(e2e_stack: Stack) -> str:
    return str(e2e_stack.base_url)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/screenshots when COURIER_SCREENSHOTS=1 (`make screenshots`), else a temp folder, so
    an ordinary test run leaves the tree as it found it."""
    if os.environ.get("COURIER_SCREENSHOTS") != "1":
        return tmp_path_factory.mktemp("screenshots")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
