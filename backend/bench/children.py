"""The `courier` processes the bench starts, and how it stops them."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.procs.child import die_with_parent

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL


@dataclass
class Child:
    """One `courier` process the bench started; its output goes to a log shown on failure."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        # Own session: a Ctrl-C reaches the bench, which stops the children in order.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
            )  # fmt: skip

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:]) or "(empty log)"


def terminate(children: list[Child]) -> None:
    """SIGTERM to all at once, so they wind down together; SIGKILL whatever hangs."""
    running = [c.process for c in children if c.process is not None and not c.exited]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
