"""What a web process's sessions share: one of each, built in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from backend.hub import EventHub
from backend.pubsub import Publisher
from backend.queue import JobQueue
from backend.rooms import Rooms
from backend.settings import Settings
from backend.tasks import TaskRegistry


@dataclass(frozen=True)
class Services:
    hub: EventHub
    queue: JobQueue
    publisher: Publisher
    rooms: Rooms
    registry: TaskRegistry
    settings: Settings
