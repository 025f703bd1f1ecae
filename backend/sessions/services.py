"""What a web process's sessions share: one of each, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from backend.core.keys import Keys
from backend.core.pubsub import Publisher
from backend.core.queue import JobQueue
from backend.core.scheduler import build_schedules
from backend.core.schedules import Schedules
from backend.core.tasks import TaskRegistry
from backend.sessions.hub import EventHub
from backend.settings import Settings


@dataclass(frozen=True)
class Services:
    hub: EventHub
    queue: JobQueue
    publisher: Publisher
    registry: TaskRegistry
    settings: Settings
    schedules: Schedules

    @classmethod
    def build(
        cls, redis: Redis, keys: Keys, settings: Settings, registry: TaskRegistry
    ) -> Services:
        """One of each over one Redis pool; the hub's events are everyone's, so a session's
        requests reach Redis in the order they were made."""
        hub = EventHub(redis, keys, settings)
        schedules = build_schedules(redis, keys, settings, registry)
        return cls(
            hub=hub,
            queue=JobQueue(redis, keys, settings, hub.events),
            publisher=Publisher(hub.events, keys),
            registry=registry,
            settings=settings,
            schedules=schedules,
        )
