"""The job feed in a web process: job consoles watch every job change, not only their own.

Job scripts publish `<id> <status>` on the feed channel only while the feed key exists, so a
deployment where nobody has a console open pays one EXISTS per change and nothing more. While
this process has a watcher, it keeps the key alive (a short TTL, refreshed); the hub's one
subscription brings the notices in, and each goes to every local watcher.
"""

from __future__ import annotations

import logging
from typing import Protocol

from redis.asyncio import Redis

from backend.core.keys import Keys

log = logging.getLogger("courier.feed")

KEEP_ALIVE = 3.0  # seconds between refreshes of the feed key
KEY_TTL = 10  # seconds the key outlives the last refresh


class Watcher(Protocol):
    def job_changed(self, job_id: str, status: str) -> None: ...


class JobFeed:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.channel = keys.job_feed
        self.watchers: set[Watcher] = set()

    async def watch(self, watcher: Watcher) -> None:
        """From now on every job change reaches `watcher` (the key is set before returning)."""
        self.watchers.add(watcher)
        await self.keep_alive()

    def unwatch(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    async def keep_alive(self) -> None:
        if self.watchers:
            await self.redis.set(self.channel, "1", ex=KEY_TTL)

    def deliver(self, data: str) -> None:
        job_id, _, status = data.partition(" ")
        for watcher in list(self.watchers):
            watcher.job_changed(job_id, status)
