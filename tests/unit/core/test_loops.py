"""`patiently`: a Redis call tried again through a short outage, and given up on after that."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.core.loops import patiently


async def test_an_outage_shorter_than_the_patience_is_ridden_out() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RedisConnectionError("Redis is restarting")
        return "stored"

    assert await patiently(flaky, 2.0) == "stored"
    assert calls == 3


async def test_a_longer_outage_raises_the_last_error() -> None:
    async def down() -> None:
        raise RedisConnectionError("still down")

    with pytest.raises(RedisConnectionError, match="still down"):
        await patiently(down, 0.25)


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def buggy() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await patiently(buggy, 5.0)
    assert calls == 1
