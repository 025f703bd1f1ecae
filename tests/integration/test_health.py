"""/healthz, /readyz and /api/status against a real web process and a real Redis."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.processes import Stack, http_status, start_test_redis, wait_until


def get_json(url: str) -> dict[str, object]:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        return dict(json.load(exc))


def test_healthz_and_readyz_with_redis_up(stack: Stack) -> None:
    base = stack.web()
    assert get_json(base + "/healthz") == {"status": "ok"}
    assert get_json(base + "/readyz") == {"status": "ready", "redis": "up"}


def test_readyz_follows_redis_down_and_back(tmp_path: Path) -> None:
    own_redis = start_test_redis(tmp_path / "redis")
    stack = Stack(own_redis.url, tmp_path)
    try:
        base = stack.web()
        own_redis.kill()
        wait_until(lambda: http_status(base + "/readyz") == 503, 10, "readyz 503")
        body = get_json(base + "/readyz")
        assert body["status"] == "unavailable"
        assert body["redis"] == "down"
        assert "Redis" in str(body["reason"])
        assert http_status(base + "/healthz") == 200, "the process itself is still alive"

        own_redis.start()  # same port: the pool reconnects by itself
        wait_until(lambda: http_status(base + "/readyz") == 200, 10, "readyz 200 again")
    finally:
        stack.stop()
        own_redis.stop()


def test_status_lists_live_consumers_and_shows_the_stopped_one_gone(stack: Stack) -> None:
    base = stack.web()
    worker = stack.worker()
    stack.subscriber()

    def counts() -> tuple[int, int]:
        status = get_json(base + "/api/status")
        alive = [
            sum(c["state"] != "gone" for c in status[kind])  # type: ignore[attr-defined]
            for kind in ("workers", "subscribers")
        ]
        return alive[0], alive[1]

    wait_until(lambda: counts() == (1, 1), 10, "one worker and one subscriber")
    assert worker.stop() == 0
    wait_until(lambda: counts() == (0, 1), 10, "the stopped worker shown gone")
    status = get_json(base + "/api/status")
    assert [c["state"] for c in status["workers"]] == ["gone"]  # type: ignore[attr-defined]
