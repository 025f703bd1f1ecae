"""`courier bench queue`: jobs sent over `/ws` to one web process and run by the workers, in two
phases. Throughput keeps many jobs outstanding on several connections, to find the rate the
stack sustains; latency sends one job at a time, so nothing queues behind it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial

from backend.bench.client import BenchError, Client, connections, ending, run_phase, say
from backend.bench.figures import Latency, Problems, Spread, Throughput, cpu_clock, layout
from backend.bench.options import QueueBench
from backend.bench.report import Report, now
from backend.bench.stack import Stack, run_bench

WINDOW = 256  # jobs one connection keeps outstanding in the throughput phase
WARMUP = 20  # unmeasured jobs before the latency phase's samples


def run_queue_bench(options: QueueBench) -> int:
    """Runs the bench and prints its report; 0 when every job came back right, else 1."""
    return run_bench(options.plan(), partial(_measure, options), options.as_json)


def _measure(options: QueueBench, stack: Stack, deadline: float) -> Report:
    tally = Tally.empty(options.jobs)
    extensions, cpu = _throughput(stack, options, tally, deadline)
    where = layout(stack.plan, stack.redis_version(), extensions)
    report = Report(options.command(), now(), where)
    report.throughput = tally.figures(options.connections, cpu)
    problems = tally.problems
    if options.latency_jobs:
        report.latency = _latency(stack.ws_url, options.latency_jobs, problems, deadline)
    report.problems, report.problem_count = problems.first, problems.count
    return report


def _throughput(
    stack: Stack, options: QueueBench, tally: Tally, deadline: float
) -> tuple[str, dict[str, float]]:
    """The WebSocket extensions agreed to, and the CPU time each process spent on the phase."""
    say(f"throughput: {options.jobs} jobs over {options.connections} connection(s)")
    try:
        with cpu_clock(stack.pids()) as cpu:
            phase = throughput_phase(stack.ws_url, options, tally)
            extensions = run_phase(phase, deadline, "throughput")
    except BenchError as exc:
        raise BenchError(f"{exc}; {tally.outstanding} of {options.jobs} jobs outstanding") from None
    tally.verify()
    return extensions, cpu


def _latency(url: str, jobs: int, problems: Problems, deadline: float) -> Latency:
    say(f"latency: {jobs} jobs one at a time")
    samples = run_phase(latency_phase(url, jobs, problems), deadline, "latency")
    return Latency(jobs, WARMUP, Spread.of(samples))


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


async def latency_phase(url: str, jobs: int, problems: Problems) -> list[float]:
    """Send, wait for its result, repeat; returns the seconds each measured job took."""
    samples: list[float] = []
    async with connections([url], 1) as (socket,):
        client = Client(socket, problems)
        await client.welcome()
        for ref in range(WARMUP + jobs):
            started = time.perf_counter()
            await client.send_job(ref)
            problem = await _until_ended(client, ref)
            if problem is not None:
                problems.add(problem)
            elif ref >= WARMUP:
                samples.append(time.perf_counter() - started)
    return samples


async def _until_ended(client: Client, ref: int) -> str | None:
    while True:
        end = ending(await client.receive())
        if end is None:
            continue
        if end[0] == ref:
            return end[1]
        client.problems.add(f"an event for job {end[0]!r} while waiting for job {ref}")
