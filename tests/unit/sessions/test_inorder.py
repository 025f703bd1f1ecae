"""A session's room messages reach Redis as it sent them, however long each waits on its way."""

import asyncio

from backend.sessions.inorder import InOrder


async def _op(order: InOrder, log: list[str], name: str, hold: asyncio.Event | None = None) -> None:
    async with order.turn("lobby", "s1"):
        if hold is not None:
            await hold.wait()
        log.append(name)


async def test_a_message_read_later_never_overtakes_one_still_waiting() -> None:
    order, log, joined = InOrder(), [], asyncio.Event()
    join = asyncio.create_task(_op(order, log, "join", joined))
    first = asyncio.create_task(_op(order, log, "chat 0"))
    await asyncio.sleep(0)
    joined.set()
    await join
    second = asyncio.create_task(_op(order, log, "chat 1"))  # read the moment the join ended
    await asyncio.gather(first, second)
    assert log == ["join", "chat 0", "chat 1"]
    assert order.last == {}


async def test_a_failed_message_lets_the_next_go() -> None:
    order, log = InOrder(), []

    async def fails() -> None:
        async with order.turn("lobby", "s1"):
            raise RuntimeError("Redis said no")

    failing = asyncio.create_task(fails())
    after = asyncio.create_task(_op(order, log, "chat"))
    assert (await asyncio.gather(failing, after, return_exceptions=True))[1] is None
    assert log == ["chat"]


async def test_one_cancelled_while_waiting_still_keeps_the_next_behind_the_one_ahead() -> None:
    order, log, joined = InOrder(), [], asyncio.Event()
    join = asyncio.create_task(_op(order, log, "join", joined))
    given_up = asyncio.create_task(_op(order, log, "chat 0"))
    after = asyncio.create_task(_op(order, log, "chat 1"))
    await asyncio.sleep(0)
    given_up.cancel()
    await asyncio.sleep(0)
    assert log == []
    joined.set()
    await asyncio.gather(join, after)
    assert log == ["join", "chat 1"]
    assert order.last == {}


async def test_other_rooms_and_sessions_do_not_wait() -> None:
    order, log, held = InOrder(), [], asyncio.Event()
    holder = asyncio.create_task(_op(order, log, "join", held))
    await asyncio.sleep(0)
    async with order.turn("other", "s1"):
        log.append("other room")
    async with order.turn("lobby", "s2"):
        log.append("other session")
    held.set()
    await holder
    assert log == ["other room", "other session", "join"]
