"""A worker's in-flight jobs: the bound on how many, cancel by the owner versus cut short by a
shutdown (which hands the job back), and room freed as jobs end."""

from __future__ import annotations

import asyncio

from backend.core.attempts import Delivery
from backend.procs.running import Running


async def test_room_closes_at_the_bound_and_opens_when_a_job_ends() -> None:
    running = Running(2)
    gate = asyncio.Event()
    running.launch(Delivery("1-0", "a"), gate.wait())
    assert running.free == 1 and running.has_room.is_set()
    running.launch(Delivery("2-0", "b"), gate.wait())
    assert running.free == 0 and not running.has_room.is_set()
    assert sorted(running.entries()) == ["1-0", "2-0"]
    gate.set()
    await asyncio.wait_for(running.has_room.wait(), 1)
    await asyncio.sleep(0)
    assert len(running) == 0 and running.free == 2


async def test_an_owner_cancel_is_told_apart_from_a_shutdown() -> None:
    running = Running(4)
    running.launch(Delivery("1-0", "mine"), asyncio.sleep(10))
    assert running.cancel("mine") and running.was_cancelled("mine")
    assert not running.cancel("nobody's"), "not running here"
    await asyncio.sleep(0.01)
    assert not running.was_cancelled("mine"), "forgotten once it ended"


async def test_a_shutdown_waits_its_grace_then_hands_back_what_is_left() -> None:
    running = Running(4)
    running.launch(Delivery("1-0", "quick"), asyncio.sleep(0.01))
    running.launch(Delivery("2-0", "slow"), asyncio.sleep(10))
    left = await running.wait_then_cancel(0.2)
    assert [d.job_id for d in left] == ["slow"]
    assert not running.was_cancelled("slow"), "cut short, not cancelled: it goes back"
