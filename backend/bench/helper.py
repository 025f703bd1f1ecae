"""Half of the fan-out bench's members, read by a second client process.

One Python process reading every member's socket tops out at one CPU, below what the server
delivers: the bench would measure its own client. So the members are split over two client
processes. The helper connects its half, joins them when told, reads every message and sends
back what each member received; the main process holds the sender and the other half, and runs
every check over both halves.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from backend.bench.client import Client, connections
from backend.bench.figures import Problems
from backend.bench.members import Member, Received, Silence, join_all
from backend.bench.options import TIME_LIMIT
from backend.procs.role import event_loop_factory


@dataclass
class Report:
    """What the helper sends back at the end."""

    members: list[Received]
    texts: dict[int, str]
    problems: list[str]
    problem_count: int


class Helper:
    """The helper process, driven step by step over a pipe: connect, join, read, report."""

    def __init__(self, urls: Sequence[str], names: list[str], everyone: set[str]) -> None:
        self.everyone = everyone
        context = multiprocessing.get_context("spawn")  # a fresh interpreter, no inherited loop
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(
            target=_main, args=(list(urls), names, everyone, theirs), daemon=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid or 0

    def start(self) -> None:
        self.process.start()

    async def step(self, command: Any) -> Any:
        """Tells the helper what to do next and waits for its answer."""
        self.pipe.send(command)
        answer = await asyncio.to_thread(self.pipe.recv)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


def _main(urls: list[str], names: list[str], everyone: set[str], pipe: Connection) -> None:
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(asyncio.wait_for(_serve(urls, names, everyone, pipe), TIME_LIMIT))
    except Exception as exc:  # the main process reports it
        pipe.send(RuntimeError(f"bench helper: {type(exc).__name__}: {exc}"))


async def _serve(urls: list[str], names: list[str], everyone: set[str], pipe: Connection) -> None:
    problems = Problems()
    texts: dict[int, str] = {}
    await _command(pipe)  # "connect"
    async with connections(urls, len(urls), lean=True) as sockets:
        clients = [Client(socket, problems) for socket in sockets]
        for client in clients:
            await client.welcome()
        pipe.send("connected")
        messages, grace, not_reading = await _command(pipe)  # ("join", ...)
        await join_all(clients, names, everyone)
        members = [
            Member(n, c, messages, texts, not_reading) for n, c in zip(names, clients, strict=True)
        ]
        silence = Silence(members, grace)
        readers = [asyncio.create_task(m.receive_all()) for m in members if m.received.reading]
        pipe.send("joined")
        await _command(pipe)  # "sent": the sender's last message went out
        if readers:
            _, late = await asyncio.wait(readers, timeout=grace)
            for task in late:
                task.cancel()
        await silence.finish()
        received = [member.received for member in members]
        pipe.send(Report(received, texts, problems.first, problems.count))


async def _command(pipe: Connection) -> Any:
    command = await asyncio.to_thread(pipe.recv)
    return command[1:] if isinstance(command, tuple) else command
