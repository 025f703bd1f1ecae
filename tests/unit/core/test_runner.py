"""The runner's time limits: which one applies (job, task, default), and an overrunning async or
sync task stopped with a `timeout:` error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from backend.core.runner import TaskRunner, no_progress
from backend.core.tasks import NoArgs, TaskContext, TaskError, TaskRegistry
from tests.sample import calls

CONTEXT = TaskContext("job-1", 1, no_progress)


async def doze(ctx: TaskContext, text: str, args: calls.NapArgs) -> str:
    await asyncio.sleep(args.seconds)
    return text.upper()


async def own_timeout(ctx: TaskContext, text: str, args: NoArgs) -> str:
    await asyncio.wait_for(asyncio.sleep(1), 0.01)
    return text


@pytest.fixture
async def runner() -> AsyncIterator[TaskRunner]:
    registry = TaskRegistry()
    registry.task("doze", args=calls.NapArgs, timeout=0.2)(doze)
    registry.task("doze_default", args=calls.NapArgs)(doze)
    registry.task("own_timeout")(own_timeout)
    registry.task("nap", args=calls.NapArgs, timeout=0.3)(calls.nap_task)
    registry.task("crunch", args=calls.NapArgs, cpu=True)(calls.nap_task)
    task_runner = TaskRunner(registry, timeout=0.1, processes=2)
    yield task_runner
    task_runner.close()


async def test_an_overrunning_async_task_is_cancelled_with_a_timeout_error(
    runner: TaskRunner,
) -> None:
    with pytest.raises(TaskError) as caught:
        await runner.run("doze", "x", {"seconds": 5}, CONTEXT)
    assert str(caught.value) == "timeout: the attempt ran longer than 0.2s and was stopped"
    assert await runner.run("doze", "x", {"seconds": 0}, CONTEXT) == "X"


async def test_a_timeout_the_task_raises_itself_is_not_an_overrun(runner: TaskRunner) -> None:
    with pytest.raises(TimeoutError):
        await runner.run("own_timeout", "x", {}, CONTEXT)


async def test_an_overrunning_sync_task_is_stopped_with_a_timeout_error(
    runner: TaskRunner,
) -> None:
    with pytest.raises(TaskError, match=r"^timeout: the attempt ran longer than 0\.3s"):
        await runner.run("nap", "x", {"seconds": 5}, CONTEXT)
    assert await runner.run("nap", "x", {"seconds": 0}, CONTEXT) == "X"
    assert await runner.run("crunch", "y", {"seconds": 0}, CONTEXT) == "Y", "cpu=True runs too"


@pytest.mark.parametrize(
    ("task", "job_timeout", "limit"),
    [("doze", 0.15, "0.15s"), ("doze", None, "0.2s"), ("doze_default", None, "0.1s")],
    ids=["the job's own", "else the task's", "else the default"],
)
async def test_the_limit_is_the_jobs_else_the_tasks_else_the_default(
    runner: TaskRunner, task: str, job_timeout: float | None, limit: str
) -> None:
    with pytest.raises(TaskError, match=f"longer than {limit} and was stopped"):
        await runner.run(task, "x", {"seconds": 5}, CONTEXT, timeout=job_timeout)


async def test_a_job_may_allow_longer_than_its_task(runner: TaskRunner) -> None:
    assert await runner.run("doze", "x", {"seconds": 0.3}, CONTEXT, timeout=2) == "X"
