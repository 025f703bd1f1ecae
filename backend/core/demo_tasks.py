"""The built-in demo tasks: what the lab, the job console and the benchmarks run. Each shows one
kind of task: async, sync on a CPU (in a process pool), slow with progress, or failing."""

from __future__ import annotations

import asyncio
import random

from pydantic import BaseModel, ConfigDict, Field

from backend.core.tasks import NoArgs, TaskContext, TaskError, task


@task()
async def uppercase(ctx: TaskContext, text: str, args: NoArgs) -> str:
    """Upper-cases the text (the original demo)."""
    return text.upper()


@task()
async def reverse(ctx: TaskContext, text: str, args: NoArgs) -> str:
    """Reverses the text."""
    return text[::-1]


@task()
async def wordcount(ctx: TaskContext, text: str, args: NoArgs) -> int:
    """Counts the words in the text."""
    return len(text.split())


class SleepArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=1.0, ge=0, le=600)


@task(args=SleepArgs)
async def sleep(ctx: TaskContext, text: str, args: SleepArgs) -> str:
    """Sleeps, reporting progress every 10 %."""
    for step in range(1, 11):
        await asyncio.sleep(args.seconds / 10)
        await ctx.progress(step / 10)
    return f"slept {args.seconds:g}s"


class FibArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(default=25, ge=0, le=35)


def _fib(n: int) -> int:
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


@task(args=FibArgs, cpu=True)
def fib(text: str, args: FibArgs) -> int:
    """The n-th Fibonacci number, computed the slow way: CPU-bound, runs in a process pool."""
    return _fib(args.n)


class FlakyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(default=0.5, ge=0, le=1)


@task(args=FlakyArgs)
async def flaky(ctx: TaskContext, text: str, args: FlakyArgs) -> str:
    """Fails with probability p, else upper-cases the text."""
    if random.random() < args.p:
        raise TaskError(f"flaky failure (p={args.p:g})")
    return text.upper()


@task()
async def fail(ctx: TaskContext, text: str, args: NoArgs) -> str:
    """Always fails."""
    raise TaskError("this task always fails")
