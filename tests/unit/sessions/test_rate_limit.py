"""The per-connection rate limit counts every frame, whatever is in it."""

from __future__ import annotations

import pytest

from backend.sessions import ratelimit
from tests.unit.sessions.conftest import Connect, StartServices
from tests.unit.sessions.memory import ShiftedClock


async def test_frames_that_do_not_parse_count_toward_the_limit(
    start_services: StartServices, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "time", ShiftedClock())
    client = connect(await start_services(rate_limit=3))
    await client.next()
    deep = '{"a":' * 40 + "1" + "}" * 40
    for frame in ("not json", "[1]", deep, '{"type": "ping", "ref": 1}'):
        client.send(frame)
    codes = [(await client.next()).get("code") for _ in range(4)]
    assert codes == ["invalid_json", "invalid_message", "too_deep", "rate_limited"]


async def test_a_limit_below_one_per_second_still_lets_a_message_through(
    start_services: StartServices, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ShiftedClock()
    monkeypatch.setattr(ratelimit, "time", clock)
    client = connect(await start_services(rate_limit=0.5))
    await client.next()
    assert (await client.ask({"type": "ping", "ref": 1}))["type"] == "pong"
    assert (await client.ask({"type": "ping", "ref": 2}))["code"] == "rate_limited"
    clock.shift += 2.0
    assert (await client.ask({"type": "ping", "ref": 3}))["type"] == "pong"
