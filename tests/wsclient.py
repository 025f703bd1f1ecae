"""A small async client of Courier's /ws protocol for tests: every event it receives is checked
(session events for a `seq` one higher than the last, room events for an `offset` higher than
the last of their room), and kept so tests can assert on the whole conversation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Event = dict[str, Any]


class Client:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[Event] = []
        self.welcome: Event = {}
        self.offsets: dict[str, int] = {}  # room -> last offset seen

    @classmethod
    async def open(cls, base_url: str, query: str = "", **headers: str) -> Client:
        url = base_url.replace("http://", "ws://") + "/ws" + (f"?{query}" if query else "")
        connection = await connect(url, additional_headers=headers or None, max_size=None)
        client = cls(connection)
        client.welcome = await client.recv()
        assert client.welcome["type"] == "welcome", client.welcome
        return client

    @property
    def session(self) -> str:
        return str(self.welcome["session"])

    @property
    def last_seq(self) -> int:
        numbered = [e for e in self.events if "seq" in e]
        return int(numbered[-1]["seq"]) if numbered else int(self.welcome["seq"])

    async def send(self, message: Event | str) -> None:
        await self.connection.send(message if isinstance(message, str) else json.dumps(message))

    async def job(self, text: str = "hello", **fields: Any) -> str:
        """Sends a queue job and returns its id from `accepted`."""
        ref = fields.pop("ref", f"ref-{len(self.events)}-{text[:8]}")
        await self.send({"type": "send", "mode": "queue", "text": text, "ref": ref, **fields})
        accepted = await self.until(
            lambda e: e["type"] in ("accepted", "error") and e.get("ref") == ref
        )
        assert accepted["type"] == "accepted", accepted
        return str(accepted["id"])

    async def recv(self, timeout: float = 10.0) -> Event:
        raw = await asyncio.wait_for(self.connection.recv(), timeout)
        event: Event = json.loads(raw)
        if "seq" not in event:  # a room event
            assert isinstance(event.get("offset"), int), event
            previous = self.offsets.get(event["room"], -1)
            assert event["offset"] >= previous, (previous, event)  # history shares its offset
            self.offsets[event["room"]] = event["offset"]
        else:
            assert isinstance(event["seq"], int), event
            previous = self.last_seq if self.welcome else -1
            assert event["seq"] > previous or event["type"] == "welcome", (previous, event)
        if self.welcome:
            self.events.append(event)
        return event

    async def until(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        """The first event that matches, received already or waited for."""
        for event in self.events:
            if predicate(event):
                return event
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(
                    f"no matching event within {timeout:g}s; got {self.events[-5:]}"
                )
            event = await self.recv(left)
            if predicate(event):
                return event

    async def result_of(self, job_id: str, timeout: float = 10.0) -> Event:
        """The final event of a job: result, final failure, or cancelled."""
        return await self.until(
            lambda e: (
                e.get("id") == job_id
                and (e["type"] in ("result", "cancelled") or (e["type"] == "failed" and e["final"]))
            ),
            timeout,
        )

    async def quiet(self, seconds: float) -> list[Event]:
        """Everything received in the next `seconds` (to check that nothing else arrives)."""
        got = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                got.append(await self.recv(left))
            except TimeoutError:
                break
        return got

    def of(self, job_id: str, kind: str | None = None) -> list[Event]:
        return [e for e in self.events if e.get("id") == job_id and kind in (None, e["type"])]

    async def close(self) -> None:
        await self.connection.close()
