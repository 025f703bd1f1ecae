"""`courier bench connections` as a user runs it, small: every socket opens, answers its ping,
and once closed leaves in Redis only keys that expire (figures are never judged here)."""

from __future__ import annotations

import json
import subprocess
import sys

KEYS = {
    "sockets", "web_rss_kb_per_socket", "redis_bytes_per_socket", "connect_seconds", "pongs",
    "web_rss_kb", "redis_used_memory", "keys_after_close", "ok",
}  # fmt: skip


def connections_bench(*argv: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-m", "backend.cli", "bench", "connections", *argv, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report: dict[str, object] = json.loads(run.stdout)
    return report


def test_every_socket_answers_its_ping_and_leaves_only_expiring_keys() -> None:
    report = connections_bench("--sockets", "200", "--rooms", "4")
    assert set(report) >= KEYS
    assert (report["sockets"], report["pongs"], report["ok"]) == (200, 200, True)
    left = report["keys_after_close"]
    assert isinstance(left, dict) and "route" not in left
    assert all(kind["min_ttl"] > 0 for kind in left.values())
