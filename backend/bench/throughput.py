"""The throughput phase: K connections, each keeping a window of jobs outstanding."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from backend.bench.client import Client, connections, ending
from backend.bench.figures import Problems, Spread, Throughput
from backend.bench.options import QueueBench

WINDOW = 256  # jobs one connection keeps outstanding in the throughput phase


@dataclass
class Tally:
    """The throughput phase, per job (the ref is the job's index)."""

    sent: list[float]
    ended: list[float]  # first result or error; 0.0 while outstanding
    results: list[int]
    problems: Problems

    @classmethod
    def empty(cls, jobs: int) -> Tally:
        return cls([0.0] * jobs, [0.0] * jobs, [0] * jobs, Problems())

    @property
    def outstanding(self) -> int:
        return self.ended.count(0.0)

    def verify(self) -> None:
        """No job has two results (missing, wrong and failed ones were counted as they came)."""
        for ref, count in enumerate(self.results):
            if count > 1:
                self.problems.add(f"job {ref}: {count} results, expected exactly 1")

    def figures(self, connections: int, cpu: dict[str, float]) -> Throughput:
        first, last = min(self.sent), max(self.ended)
        seconds = max(last - first, 1e-9)
        latencies = [
            e - s for s, e, n in zip(self.sent, self.ended, self.results, strict=True) if n
        ]
        per_second = len(self.sent) / seconds
        return Throughput(
            len(self.sent), connections, WINDOW, seconds, per_second, Spread.of(latencies), cpu
        )


class Pipeline:
    """One connection's share of the throughput phase: sends with at most WINDOW outstanding,
    reads until every one of its jobs has ended."""

    def __init__(self, client: Client, refs: range, tally: Tally) -> None:
        self.client = client
        self.refs = refs
        self.tally = tally
        self.slots = asyncio.Semaphore(WINDOW)
        self.left = len(refs)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._send_all())
            await self._read_all()

    async def _send_all(self) -> None:
        for ref in self.refs:
            await self.slots.acquire()
            self.tally.sent[ref] = time.perf_counter()
            await self.client.send_job(ref)

    async def _read_all(self) -> None:
        while self.left:
            end = ending(await self.client.receive())
            if end is not None:
                self._end(*end)

    def _end(self, ref: object, problem: str | None) -> None:
        tally = self.tally
        if not isinstance(ref, int) or ref not in self.refs:
            tally.problems.add(
                problem or f"an event for a job this connection did not send: {ref!r}"
            )
            return
        if problem is None:
            tally.results[ref] += 1
        else:
            tally.problems.add(problem)
        if not tally.ended[ref]:
            tally.ended[ref] = time.perf_counter()
            self.left -= 1
            self.slots.release()


async def throughput_phase(url: str, options: QueueBench, tally: Tally) -> str:
    """Opens every connection and waits for every welcome before the first send, so the clock
    measures jobs, not handshakes; returns the WebSocket extensions agreed to."""
    count = options.connections
    async with connections([url], count) as sockets:
        clients = [Client(socket, tally.problems) for socket in sockets]
        extensions = [await client.welcome() for client in clients]
        pipelines = [
            Pipeline(client, range(index, options.jobs, count), tally)
            for index, client in enumerate(clients)
        ]
        async with asyncio.TaskGroup() as group:
            for pipeline in pipelines:
                group.create_task(pipeline.run())
    return extensions[0]
