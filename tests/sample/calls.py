"""Plain functions the sandbox and runner tests run in task processes: module-level (a process
gets a function by reference) and cheap to import, since the import counts against a time limit."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from pydantic import BaseModel


def add(a: int, b: int) -> int:
    return a + b


def pid() -> int:
    return os.getpid()


def fail(message: str) -> None:
    raise ValueError(message)


def nap(seconds: float, marker: str = "") -> int:
    """Sleeps, then writes `marker` (if given): a marker that never appears was killed first."""
    time.sleep(seconds)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    return os.getpid()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def unsendable() -> object:
    return lambda: None


class NapArgs(BaseModel):
    seconds: float = 0.0


def nap_task(text: str, args: NapArgs) -> str:
    """`nap` as a sync task: `(text, args)`."""
    time.sleep(args.seconds)
    return text.upper()
