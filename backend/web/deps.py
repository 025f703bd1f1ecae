"""What the web app's lifespan owns, and the FastAPI dependencies that hand it to routes."""

from __future__ import annotations

from typing import Annotated, TypedDict, cast

from fastapi import Depends, Request, WebSocket
from redis.asyncio import Redis
from starlette.requests import HTTPConnection

from backend.core.keys import Keys
from backend.core.queue import JobQueue
from backend.core.tasks import TaskRegistry
from backend.sessions.services import Services
from backend.settings import Settings


class AppState(TypedDict):
    settings: Settings
    keys: Keys
    redis: Redis
    services: Services


def app_state(connection: HTTPConnection) -> AppState:
    return cast(AppState, connection.scope["state"])


def _settings(request: Request) -> Settings:
    return app_state(request)["settings"]


def _keys(request: Request) -> Keys:
    return app_state(request)["keys"]


def _redis(request: Request) -> Redis:
    return app_state(request)["redis"]


def _services(request: Request) -> Services:
    return app_state(request)["services"]


def _queue(request: Request) -> JobQueue:
    return _services(request).queue


def _registry(request: Request) -> TaskRegistry:
    return _services(request).registry


SettingsDep = Annotated[Settings, Depends(_settings)]
KeysDep = Annotated[Keys, Depends(_keys)]
RedisDep = Annotated[Redis, Depends(_redis)]
QueueDep = Annotated[JobQueue, Depends(_queue)]
RegistryDep = Annotated[TaskRegistry, Depends(_registry)]
ServicesDep = Annotated[Services, Depends(_services)]

__all__ = [
    "AppState",
    "KeysDep",
    "QueueDep",
    "RedisDep",
    "RegistryDep",
    "ServicesDep",
    "SettingsDep",
    "WebSocket",
    "app_state",
]
