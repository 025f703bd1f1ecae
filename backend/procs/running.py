"""The jobs a worker is running right now: one owned task each, a bound on how many, and the
difference between a job cancelled by its owner and one cut short by shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from backend.core.attempts import Delivery


class Running:
    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.jobs: dict[str, tuple[Delivery, asyncio.Task[None]]] = {}
        self.cancelled: set[str] = set()
        self.has_room = asyncio.Event()
        self.has_room.set()

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def free(self) -> int:
        return self.concurrency - len(self.jobs)

    def entries(self) -> list[str]:
        """Stream entries of the jobs in flight (kept alive so nobody takes them over)."""
        return [delivery.entry for delivery, _ in self.jobs.values()]

    def launch(self, delivery: Delivery, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job, name=f"job {delivery.job_id}")
        self.jobs[delivery.job_id] = (delivery, task)
        task.add_done_callback(lambda _: self._finished(delivery.job_id))
        if self.free <= 0:
            self.has_room.clear()

    def _finished(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)
        self.cancelled.discard(job_id)
        self.has_room.set()

    def cancel(self, job_id: str) -> bool:
        """Stops a job its owner cancelled; False when it is not running here."""
        running = self.jobs.get(job_id)
        if running is None:
            return False
        self.cancelled.add(job_id)
        running[1].cancel()
        return True

    def was_cancelled(self, job_id: str) -> bool:
        return job_id in self.cancelled

    async def wait_then_cancel(self, grace: float) -> list[Delivery]:
        """Waits up to `grace` for every job, then stops the rest and returns their deliveries,
        to be handed back to the queue."""
        if self.jobs:
            await asyncio.wait([task for _, task in self.jobs.values()], timeout=grace)
        leftover = list(self.jobs.values())
        for _, task in leftover:
            task.cancel()
        await asyncio.gather(*(task for _, task in leftover), return_exceptions=True)
        return [delivery for delivery, _ in leftover]
