"""The processes under test, and the one way every bench runs them: a redis-server (unless given
a URL), web processes and workers on free ports, started as `courier run` starts them, measured,
and always stopped, whatever happened, so a run leaves nothing behind."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis

from backend.bench.aof_redis import own_redis
from backend.bench.cleanup import forget_keys
from backend.bench.client import BenchError, say, sigterm_as_interrupt
from backend.bench.options import TIME_LIMIT, UNTHROTTLED, Plan, hide_password
from backend.bench.report import Verdict
from backend.bench.sockets import allow_sockets
from backend.procs.child import Child, ChildError, role_argv, terminate
from backend.procs.redis_cluster import LocalCluster, RedisClusterError
from backend.procs.redis_server import RedisServer, RedisServerError, free_port

START_TIMEOUT = 30.0
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL


@dataclass
class Stack:
    """A redis-server (unless given a URL), the web processes and the workers, on free ports."""

    plan: Plan
    directory: Path
    prefix: str = field(default_factory=lambda: f"bench-{secrets.token_hex(4)}:")
    redis: RedisServer | None = None
    cluster: LocalCluster | None = None
    redis_url: str = ""
    base_urls: list[str] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)

    def start(self, deadline: float) -> None:
        say(f"starting {self.plan.describe()}")
        self.redis_url = _reachable(self.plan.redis_url) or self._start_redis()
        ports = _free_ports(self.plan.webs)
        self.base_urls = [f"http://127.0.0.1:{port}" for port in ports]
        self.children = self._webs(ports) + self._workers()
        env = self._environment()
        for child in self.children:
            child.start(env)
        self._wait(deadline, "the web servers' /readyz", self._webs_ready)
        if self.plan.workers:
            self._wait(deadline, f"{self.plan.workers} live workers", self._workers_live)

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    @property
    def ws_url(self) -> str:
        return self.ws_urls[0]

    @property
    def ws_urls(self) -> list[str]:
        """One `/ws` URL per web process, in the order they were started."""
        return [url.replace("http://", "ws://", 1) + "/ws" for url in self.base_urls]

    def _start_redis(self) -> str:
        if self.plan.redis_cluster:
            self.cluster = LocalCluster(self.directory / "redis-cluster")
            try:
                self.cluster.start()
            except (RedisClusterError, ChildError) as exc:
                raise BenchError(f"could not start a local Redis Cluster: {exc}") from None
            return self.cluster.url
        self.redis = own_redis(self.directory / "redis", self.plan.appendfsync)
        try:
            return self.redis.start()
        except RedisServerError as exc:
            raise BenchError(f"could not start redis-server: {exc}") from None

    def _webs(self, ports: list[int]) -> list[Child]:
        """A lone web process is `web`, as `courier run` calls it; several are `web-1`, ..."""
        webs = []
        for index, port in enumerate(ports, start=1):
            name = "web" if len(ports) == 1 else f"web-{index}"
            argv = role_argv("web", "--host", "127.0.0.1", "--port", str(port))
            webs.append(Child(name, argv, self.directory / f"{name}.log"))
        return webs

    def _workers(self) -> list[Child]:
        argv = role_argv("worker", "--concurrency", str(self.plan.concurrency))
        names = [f"worker-{index}" for index in range(1, self.plan.workers + 1)]
        return [Child(name, argv, self.directory / f"{name}.log") for name in names]

    def _environment(self) -> dict[str, str]:
        """The user's COURIER_* settings are left out, so every run measures the same thing."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURIER_")}
        env.update(
            COURIER_REDIS_URL=self.redis_url,
            COURIER_KEY_PREFIX=self.prefix,
            COURIER_LOG_LEVEL="warning",
            COURIER_RATE_LIMIT=UNTHROTTLED,  # messages/s per socket
            PYTHONUNBUFFERED="1",
        )
        if self.plan.redis_cluster:
            env["COURIER_REDIS_CLUSTER"] = "true"
        env.update(self.plan.settings)
        return env

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        limit = min(deadline, time.monotonic() + START_TIMEOUT)
        while not ready():
            for child in self.children:
                if child.exited:
                    raise BenchError(f"{child.name} exited during start-up:\n{child.log_tail()}")
            if time.monotonic() > limit:
                logs = "\n".join(f"--- {c.name}\n{c.log_tail()}" for c in self.children)
                raise BenchError(f"timed out waiting for {what}\n{logs}")
            time.sleep(0.05)

    def _webs_ready(self) -> bool:
        return all(_get_json(url + "/readyz") is not None for url in self.base_urls)

    def _workers_live(self) -> bool:
        report = _get_json(self.base_url + "/api/queue")
        workers = report.get("workers", []) if isinstance(report, dict) else []
        live = [w for w in workers if isinstance(w, dict) and w.get("state") != "gone"]
        return len(live) >= self.plan.workers

    def pids(self) -> dict[str, int]:
        """The processes whose CPU time the report shows."""
        pids = {c.name: c.pid for c in self.children if c.process is not None}
        if self.redis is not None and self.redis.process is not None:
            pids["redis-server"] = self.redis.process.pid
        if self.cluster is not None:
            primaries = {node.port for node in self.cluster.primaries()}
            for port, child in self.cluster.children.items():
                if port in primaries and child.process is not None:
                    pids[f"redis-{port}"] = child.process.pid
        return pids

    def redis_version(self) -> str:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            version = str(client.info("server").get("redis_version", "?"))
        except redis.RedisError as exc:
            version = f"? ({exc})"
        finally:
            client.close()
        owned = self.redis is not None or self.cluster is not None
        fsync = self.plan.appendfsync
        where = f"own, AOF, appendfsync {fsync}" if fsync else "own, non-persistent"
        where = where if owned else "given by --redis-url"
        if self.plan.redis_cluster:
            return f"Redis Cluster {version} ({where})"
        return f"redis-server {version} ({where})"

    def stop(self) -> None:
        """Web first (no new jobs), then the workers, then Redis; SIGKILL whatever hangs."""
        terminate([c for c in self.children if c.name.startswith("web")], STOP_GRACE)
        terminate([c for c in self.children if not c.name.startswith("web")], STOP_GRACE)
        if self.redis is not None:
            self.redis.stop(timeout=STOP_GRACE)
        elif self.cluster is not None:
            self.cluster.stop(STOP_GRACE)
        elif self.redis_url:
            forget_keys(self.redis_url, self.prefix, self.plan.redis_cluster)


def _free_ports(count: int) -> list[int]:
    """Distinct ports: the OS may hand out a port again once its probe socket is closed."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _reachable(url: str | None) -> str | None:
    """The given Redis URL once it answers PING, so a wrong URL fails now, not at a timeout."""
    if url is None:
        return None
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {hide_password(url)} does not answer: {exc}") from None
    finally:
        client.close()
    return url


def _get_json(url: str) -> Any:
    """The decoded body of a 200 answer, else None (not up yet, or not ready)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):  # urllib.error.URLError and HTTPError are OSErrors
        return None


R = TypeVar("R", bound=Verdict)
T = TypeVar("T")


def run_bench(plan: Plan, measure: Callable[[Stack, float], R], as_json: bool) -> int:
    """Starts what `plan` asks for, lets `measure(stack, deadline)` drive it, and prints the
    report it returns, as JSON or text; 0 when it is ok, 1 when not or when the bench could not
    run, 2 when the sockets it needs are more than the open-files limit allows, 130 when
    interrupted."""
    refused = allow_sockets(plan.sockets)
    if refused is not None:
        say(refused)
        return 2
    with sigterm_as_interrupt():
        try:
            report = run_stack(plan, measure)
        except BenchError as exc:
            say(str(exc))
            return 1
        except KeyboardInterrupt:
            say("interrupted; everything it started is stopped")
            return 130
    print(report.as_json() if as_json else report.as_text())
    return 0 if report.ok else 1


def run_stack(plan: Plan, measure: Callable[[Stack, float], T]) -> T:
    """Starts what `plan` asks for and lets `measure(stack, deadline)` drive it, at most
    TIME_LIMIT seconds; whatever happens, the processes are stopped and their logs removed."""
    deadline = time.monotonic() + TIME_LIMIT
    with tempfile.TemporaryDirectory(prefix="courier-bench-") as directory:
        stack = Stack(plan, Path(directory))
        try:
            stack.start(deadline)
            return measure(stack, deadline)
        finally:
            say("stopping the processes")
            stack.stop()
