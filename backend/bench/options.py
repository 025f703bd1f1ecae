"""What `courier bench queue` was asked to do, and the time limit every run keeps to."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

TIME_LIMIT = 120.0  # seconds for start-up and both phases; stopping adds a few more at most


@dataclass(frozen=True)
class QueueBench:
    """What `courier bench queue` was asked to do."""

    connections: int = 4
    jobs: int = 20_000
    latency_jobs: int = 2_000
    workers: int = 1
    concurrency: int = 16
    redis_url: str | None = None
    as_json: bool = False

    def command(self) -> str:
        """The command that repeats this run, every value spelled out (password hidden)."""
        argv = ["courier", "bench", "queue", "--connections", str(self.connections)]
        argv += ["--jobs", str(self.jobs), "--latency-jobs", str(self.latency_jobs)]
        argv += ["--workers", str(self.workers), "--concurrency", str(self.concurrency)]
        if self.redis_url:
            argv += ["--redis-url", hide_password(self.redis_url)]
        if self.as_json:
            argv.append("--json")
        return shlex.join(argv)


def hide_password(url: str) -> str:
    """The URL with its password as `***`, fit for a report or an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
