"""What the web app's lifespan owns, and the FastAPI dependencies that hand it to routes."""

from __future__ import annotations

from typing import Annotated, TypedDict, cast

from fastapi import Depends, Request, WebSocket
from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from backend.hub import EventHub
from backend.keys import Keys
from backend.queue import JobQueue
from backend.settings import Settings
from backend.tasks import TaskRegistry


class AppState(TypedDict):
    settings: Settings
    keys: Keys
    redis: Redis
    hub: EventHub
    queue: JobQueue
    registry: TaskRegistry


def app_state(connection: HTTPConnection) -> AppState:
    return cast(AppState, connection.scope["state"])


def _settings(request: Request) -> Settings:
    return app_state(request)["settings"]


def _keys(request: Request) -> Keys:
    return app_state(request)["keys"]


def _redis(request: Request) -> Redis:
    return app_state(request)["redis"]


def _queue(request: Request) -> JobQueue:
    return app_state(request)["queue"]


def _registry(request: Request) -> TaskRegistry:
    return app_state(request)["registry"]


SettingsDep = Annotated[Settings, Depends(_settings)]
KeysDep = Annotated[Keys, Depends(_keys)]
RedisDep = Annotated[Redis, Depends(_redis)]
QueueDep = Annotated[JobQueue, Depends(_queue)]
RegistryDep = Annotated[TaskRegistry, Depends(_registry)]

__all__ = [
    "AppState",
    "KeysDep",
    "QueueDep",
    "RedisDep",
    "RegistryDep",
    "SettingsDep",
    "WebSocket",
    "app_state",
]
