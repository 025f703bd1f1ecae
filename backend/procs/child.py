"""One way to run a child process: start it, wait until it is ready, stop it with SIGTERM and
then SIGKILL, and show the end of its log. `courier run`, `courier bench` and the test suite all
start Courier roles (and redis-server) through this module.

Synchronous on purpose: it runs in the supervisor, the bench's driver and test fixtures, never
inside an event loop.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_GRACE = 10.0


class ChildError(RuntimeError):
    """A child exited or did not become ready in time; the message ends with its log tail."""


def die_with_parent() -> None:
    """Runs in the child before exec: on Linux it gets SIGTERM if its parent dies, even by
    SIGKILL, so no orphan outlives whoever started it. The kernel watches the starting *thread*:
    start children from a thread that lives as long as they should (not `asyncio.to_thread`)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def role_argv(role: str, *args: str) -> list[str]:
    """The command line of one Courier role, run by this very Python."""
    return [sys.executable, "-m", "backend.cli", role, *args]


def stop_process(process: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> int:
    """SIGTERM, then SIGKILL if the process has not exited within `grace`; its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


@dataclass
class Child:
    """One child process. With a `log_path` its output goes there (appended across restarts);
    without one it shares the parent's terminal."""

    name: str
    argv: list[str]
    log_path: Path | None = None
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> Child:
        # Its own session: a Ctrl-C in the terminal reaches only the parent, which then stops
        # its children in the order it chooses.
        output = self.log_path.open("ab") if self.log_path is not None else None
        try:
            self.process = subprocess.Popen(
                self.argv, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                stdout=output, stderr=output, start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 (no threads run in the parents)
            )  # fmt: skip
        finally:
            if output is not None:
                output.close()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def signal(self, signum: int) -> None:
        assert self.process is not None, f"{self.name} was never started"
        self.process.send_signal(signum)

    def wait_ready(self, ready: Callable[[], bool], timeout: float, what: str = "ready") -> None:
        """Polls `ready` until it is true; ChildError if the child exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.exited:
                raise ChildError(f"{self.name} exited with {self.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise ChildError(f"{self.name} not {what} after {timeout:g}s: {self.log_tail()}")
            time.sleep(0.02)

    def stop(self, grace: float = STOP_GRACE) -> int:
        """SIGTERM, then SIGKILL after `grace`; the exit code (0 if it never ran)."""
        return stop_process(self.process, grace) if self.process is not None else 0

    def kill(self) -> None:
        """SIGKILL, as a crash would: no cleanup, no goodbye."""
        if self.is_running:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 8) -> str:
        if self.log_path is None:
            return "(output went to the terminal)"
        text = self.output().strip().splitlines()
        return "\n".join(text[-lines:]) or "(empty log)"


def terminate(children: Iterable[Child], grace: float = STOP_GRACE) -> list[str]:
    """SIGTERM to all at once, so they wind down together, then SIGKILL whatever is still
    running after `grace`; returns the names of those that had to be killed."""
    running = [child for child in children if child.is_running]
    for child in running:
        child.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    killed = []
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            killed.append(child.name)
            child.kill()
    return killed
