"""Real processes for tests: Courier roles started as `python -m backend.cli ROLE`, and polling.

Shared by the integration and e2e suites so both start the stack the same way a user does.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backend.procs.child import Child, role_argv
from backend.procs.redis_server import INSTALL_HINT, RedisServer, find_redis_server, free_port

STOP_GRACE = 15.0  # longer than a worker's shutdown grace, so it can hand jobs back


def start_test_redis(directory: Path, persistent: bool = False) -> RedisServer:
    """A private redis-server, found the same way `courier run` finds its embedded one."""
    if find_redis_server() is None:
        pytest.fail(f"the tests need a real redis-server: {INSTALL_HINT}")
    server = RedisServer(data_dir=directory, persistent=persistent)
    server.start()
    return server


def wait_until(
    condition: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> object:
    """Polls `condition` until it returns something truthy; fails with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def http_json(
    url: str, method: str = "GET", body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Status and decoded JSON body of one request, error statuses included."""
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def courier_env(redis_url: str | None, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURIER_")}
    if redis_url:
        env["COURIER_REDIS_URL"] = redis_url
    env.update({f"COURIER_{k.upper()}": v for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Stack:
    """Web servers, workers and subscribers as real processes against one Redis."""

    redis_url: str
    log_dir: Path
    settings: dict[str, str] = field(default_factory=dict)
    roles: list[Child] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return courier_env(self.redis_url, **self.settings)

    def add(self, role: str, *args: str) -> Child:
        index = sum(r.name.startswith(f"{role}-") for r in self.roles) + 1
        name = f"{role}-{index}"
        child = Child(name, role_argv(role, *args), self.log_dir / f"{name}.log")
        self.roles.append(child.start(self.env()))
        return child

    def web(self, port: int | None = None) -> str:
        """Starts a web process (on a free port unless given) and returns its base URL once
        /readyz is 200."""
        port = port or free_port()
        role = self.add("web", "--host", "127.0.0.1", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: http_status(base + "/readyz") == 200, 20, f"{role.name} ready")
        except AssertionError:
            raise AssertionError(f"{role.name} did not start:\n{role.output()}") from None
        return base

    def worker(self, *args: str) -> Child:
        return self.add("worker", *args)

    def subscriber(self, *args: str) -> Child:
        return self.add("subscriber", *args)

    def stop(self) -> None:
        for role in reversed(self.roles):
            role.stop(STOP_GRACE)

    def logs(self) -> str:
        return "\n".join(f"--- {r.name}\n{r.output()[-4000:]}" for r in self.roles)
