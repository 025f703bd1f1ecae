"""Celery: the uppercase task on a Redis broker with the Redis result backend, and the
producer's side: `delay`, then `AsyncResult.get`, which the Redis backend answers over pub/sub.
Tuned, the worker takes many messages at once (worker_prefetch_multiplier 128, as Celery's
optimizing guide advises for many short tasks); its pool is chosen on its command line."""

from __future__ import annotations

import os

from celery import Celery
from celery.result import AsyncResult

TUNED = os.environ.get("PEER_TUNED") == "1"
PACKAGES = ("celery", "kombu", "redis", "hiredis")
URL = os.environ.get("PEER_REDIS_URL", "redis://")

app = Celery("celery_app", broker=URL, backend=URL)
app.conf.update(
    worker_prefetch_multiplier=128 if TUNED else 4,
    broker_connection_retry_on_startup=True,
)


def _uppercase(text: str) -> str:
    return text.upper()


uppercase = app.task(name="uppercase")(_uppercase)


class Producer:
    def ready(self) -> bool:
        return bool(app.control.ping(timeout=0.5))

    def submit(self, text: str) -> AsyncResult:
        result: AsyncResult = uppercase.delay(text)
        return result

    def wait(self, result: AsyncResult, seconds: float) -> str:
        return str(result.get(timeout=seconds))

    def close(self) -> None:
        app.close()


def producer(url: str) -> Producer:
    return Producer()
