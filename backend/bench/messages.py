"""What the bench writes to stderr: progress as it goes, and the error that ends a run."""

from __future__ import annotations

import sys


class BenchError(RuntimeError):
    """The bench could not run to the end; the message says where and why."""


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds the report alone (valid JSON with --json)."""
    print(f"courier bench: {message}", file=sys.stderr, flush=True)
