"""`courier worker`: one queue worker process."""

from __future__ import annotations

import asyncio
import logging

from backend.beating import beat_forever
from backend.connection import create_redis
from backend.consumers import ConsumerKind, ConsumerState, Heartbeat, new_consumer_id
from backend.keys import Keys
from backend.process import configure_logging, run_role
from backend.settings import Settings

log = logging.getLogger("courier.worker")


class Worker:
    def __init__(self, settings: Settings, consumer_id: str | None = None) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.id = consumer_id or new_consumer_id(ConsumerKind.WORKER)
        self.processed = 0

    async def run(self, stop: asyncio.Event) -> None:
        redis = create_redis(self.settings)
        heartbeat = Heartbeat(redis, self.keys, ConsumerKind.WORKER, self.id)
        log.info("worker %s started", self.id)
        try:
            async with asyncio.TaskGroup() as group:
                beating = group.create_task(
                    beat_forever(
                        heartbeat,
                        self.settings.heartbeat_interval,
                        lambda: ConsumerState.IDLE,
                        lambda: {"processed": self.processed},
                    )
                )
                await stop.wait()
                beating.cancel()
            await heartbeat.sign_off()
        finally:
            await redis.aclose()
            log.info("worker %s stopped", self.id)


def run_worker(settings: Settings) -> int:
    configure_logging(settings, "worker")
    run_role(Worker(settings).run)
    return 0
