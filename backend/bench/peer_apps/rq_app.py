"""RQ: the uppercase job and the producer's side: `Queue.enqueue`, then `Job.latest_result`,
which blocks on the job's result stream (XREAD). The worker is RQ's own command line: the
default `Worker` forks a process per job; `SimpleWorker`, the documented faster choice for
short jobs, runs them in its own process."""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.results import Result
from rq.worker import Worker

PACKAGES = ("rq", "redis", "hiredis")
QUEUE = "bench"


def uppercase(text: str) -> str:
    return text.upper()


class Producer:
    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(url)
        self.queue = Queue(QUEUE, connection=self.redis)

    def ready(self) -> bool:
        return bool(Worker.count(connection=self.redis) > 0)

    def submit(self, text: str) -> Job:
        return self.queue.enqueue(uppercase, text)

    def wait(self, job: Job, seconds: float) -> str:
        result = job.latest_result(timeout=max(1, round(seconds)))
        if result is None:
            raise TimeoutError(f"no result for job {job.id} within {seconds:.0f}s")
        if result.type != Result.Type.SUCCESSFUL:
            raise RuntimeError(f"job {job.id}: {result.type.name}: {result.exc_string}")
        return str(result.return_value)

    def close(self) -> None:
        self.redis.close()


def producer(url: str) -> Producer:
    return Producer(url)
