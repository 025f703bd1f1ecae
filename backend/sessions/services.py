"""What a web process's sessions share: one of each, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from backend.core.pubsub import Publisher
from backend.core.queue import JobQueue
from backend.core.rooms import Rooms
from backend.core.tasks import TaskRegistry
from backend.sessions.hub import EventHub
from backend.settings import Settings


@dataclass(frozen=True)
class Services:
    hub: EventHub
    queue: JobQueue
    publisher: Publisher
    rooms: Rooms
    registry: TaskRegistry
    settings: Settings
