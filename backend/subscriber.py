"""`courier subscriber`: one pub/sub subscriber process."""

from __future__ import annotations

import asyncio
import logging

from backend.beating import beat_forever
from backend.connection import create_redis
from backend.consumers import ConsumerKind, ConsumerState, Heartbeat, new_consumer_id
from backend.keys import Keys
from backend.process import configure_logging, run_role
from backend.settings import Settings

log = logging.getLogger("courier.subscriber")


class Subscriber:
    def __init__(self, settings: Settings, consumer_id: str | None = None) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.id = consumer_id or new_consumer_id(ConsumerKind.SUBSCRIBER)
        self.processed = 0

    async def run(self, stop: asyncio.Event) -> None:
        redis = create_redis(self.settings)
        heartbeat = Heartbeat(redis, self.keys, ConsumerKind.SUBSCRIBER, self.id)
        log.info("subscriber %s started", self.id)
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
            log.info("subscriber %s stopped", self.id)


def run_subscriber(settings: Settings) -> int:
    configure_logging(settings, "subscriber")
    run_role(Subscriber(settings).run)
    return 0
