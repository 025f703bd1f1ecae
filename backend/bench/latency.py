"""The latency phase: one job at a time on one connection, so nothing queues behind it."""

from __future__ import annotations

import time

from backend.bench.client import Client, connections, ending
from backend.bench.figures import Problems

WARMUP = 20  # unmeasured jobs before the latency phase's samples


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
