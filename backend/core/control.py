"""Pausing and resuming consumers from anywhere: the wish is kept in Redis, and a message on the
control channel tells every consumer to look at it again.

Keeping the state (not just sending a message) means a consumer that starts, or reconnects after
missing the message, still obeys. `*` pauses every consumer; a consumer's own entry wins over it
("0" keeps one running while all others are paused).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from backend.core.keys import Keys

log = logging.getLogger("courier.control")

ALL = "*"
RECHECK = json.dumps({"action": "pause-state"})


async def is_paused(redis: Redis, keys: Keys, consumer_id: str) -> bool:
    own, everyone = await redis.hmget(keys.paused, [consumer_id, ALL])
    if own is not None:
        return bool(own == "1")
    return bool(everyone == "1")


async def set_paused(redis: Redis, keys: Keys, consumer_id: str, paused: bool) -> None:
    """Pauses or resumes one consumer, or every one with `*`. The wish is stored before the
    consumers are told to look at it."""
    async with redis.pipeline(transaction=True) as pipe:
        if consumer_id == ALL:
            pipe.delete(keys.paused)
            if paused:
                pipe.hset(keys.paused, ALL, "1")
        else:
            pipe.hset(keys.paused, consumer_id, "1" if paused else "0")
        await pipe.execute()
    await redis.publish(keys.control, RECHECK)


async def paused_ids(redis: Redis, keys: Keys, consumer_ids: list[str]) -> set[str]:
    """Which of these consumers are asked to pause (whether or not they have obeyed yet)."""
    wishes: Any = await redis.hgetall(keys.paused)
    everyone = wishes.get(ALL) == "1"
    return {c for c in consumer_ids if wishes.get(c, "1" if everyone else "0") == "1"}


@dataclass(frozen=True)
class Command:
    """One message on the control channel: `pause-state` (look at the pause wishes again),
    `cancel` (a job id) or `crash` (a consumer id)."""

    action: str
    id: str = ""
    consumer: str = ""


def parse_command(data: str) -> Command | None:
    """None for anything that is not a control message (it is logged and ignored)."""
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("action"), str):
        log.warning("ignoring a control message that is not one: %.80r", data)
        return None
    return Command(message["action"], str(message.get("id", "")), str(message.get("consumer", "")))


async def request_crash(redis: Redis, keys: Keys, consumer_id: str) -> None:
    """Asks one worker to die at once, as if killed: the lab's "a worker dies" scenario."""
    await redis.publish(keys.control, json.dumps({"action": "crash", "consumer": consumer_id}))
