"""Filling the room before the fan-out phase: every member joins, then waits until it has seen a
presence event that lists every member, since a message sent before a member has joined would
not reach it, and the run would count that as a loss."""

from __future__ import annotations

from typing import Any

from backend.bench.client import Client
from backend.bench.messages import BenchError
from backend.bench.phase_loop import task_group

ROOM = "bench"


def member_name(index: int) -> str:
    return f"m{index}"


SENDER = member_name(0)


async def join_all(clients: list[Client]) -> None:
    """All members join at once: each join tells every member present, so the room fills with
    M joins and about M²/2 presence events, and only the last join's event lists everyone."""
    everyone = sorted(member_name(index) for index in range(len(clients)))
    async with task_group() as group:
        for index, client in enumerate(clients):
            group.create_task(_join(client, member_name(index), everyone))


async def _join(client: Client, name: str, everyone: list[str]) -> None:
    await client.send({"type": "join", "room": ROOM, "name": name})
    history = False
    while True:
        event = await client.receive()
        kind = event.get("type")
        if kind == "error":
            detail = f"{event.get('code')}: {event.get('detail')}"
            raise BenchError(f"{name} could not join room {ROOM!r}: {detail}")
        history = history or kind == "history"
        if kind == "presence" and _lists(event, everyone):
            break
    if not history:
        client.problems.add(f"{name}: no history event after joining")


def _lists(event: dict[str, Any], everyone: list[str]) -> bool:
    members = event.get("members")
    return event.get("room") == ROOM and isinstance(members, list) and sorted(members) == everyone
