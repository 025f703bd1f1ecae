"""Sessions driven in-process: real Services on the test redis-server, a running EventHub, and
fake clients over an in-memory transport. No web server, no worker process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from backend.core.connection import create_redis
from backend.core.keys import Keys
from backend.core.loops import cancel_and_wait
from backend.core.tasks import load_tasks
from backend.sessions.protocol import new_session_id
from backend.sessions.services import Services
from backend.settings import Settings
from tests.unit.sessions.memory import FakeClient

StartServices = Callable[..., Awaitable[Services]]
Connect = Callable[..., FakeClient]


def build_services(settings: Settings, redis: Redis) -> Services:
    """What backend/app.py's lifespan builds, minus the web app."""
    return Services.build(redis, Keys(settings.key_prefix), settings, load_tasks(settings.tasks))


@pytest.fixture
async def start_services(settings: Settings) -> AsyncIterator[StartServices]:
    """`await start_services(**setting_overrides)`: Services with their hub running and ready."""
    hubs: list[asyncio.Task[None]] = []
    clients: list[Redis] = []

    async def start(**overrides: object) -> Services:
        own = settings.model_copy(update=overrides)
        clients.append(redis := create_redis(own))
        services = build_services(own, redis)
        hubs.append(asyncio.create_task(services.hub.run(), name="event hub"))
        assert await services.hub.ready(), "the hub never subscribed"
        return services

    yield start
    await cancel_and_wait(hubs)
    for redis in clients:
        await redis.aclose()


@pytest.fixture
async def services(start_services: StartServices) -> Services:
    return await start_services()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """`connect(services, session_id=None, after=-1)`: a FakeClient, hung up after the test."""
    opened: list[FakeClient] = []

    def open_client(
        services: Services, session_id: str | None = None, after: int = -1
    ) -> FakeClient:
        client = FakeClient(services, session_id or new_session_id(), after)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.transport.frames.put_nowait(None)
    tasks = [client.task for client in opened]
    if tasks:
        _, stuck = await asyncio.wait(tasks, timeout=5.0)
        await cancel_and_wait(stuck)
    failures = [t.exception() for t in tasks if t.done() and not t.cancelled() and t.exception()]
    assert not failures, f"sessions died of {failures}"
