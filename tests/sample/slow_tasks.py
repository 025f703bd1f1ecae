"""Tasks that overrun their time limit, loaded with COURIER_TASKS=tests.sample.slow_tasks."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from pydantic import BaseModel

from backend import TaskContext, task


class NapArgs(BaseModel):
    seconds: float = 5.0
    trace: str = ""  # a folder: `<pid>.started` when a nap starts, `<pid>.woke` when it ends


@task(args=NapArgs, timeout=0.4)
async def nap(ctx: TaskContext, text: str, args: NapArgs) -> str:
    """Async, with a limit of its own."""
    await asyncio.sleep(args.seconds)
    return "woke"


@task(args=NapArgs)
def nap_sync(text: str, args: NapArgs) -> str:
    """Sync, with no limit of its own (COURIER_JOB_TIMEOUT applies)."""
    trace = Path(args.trace)
    (trace / f"{os.getpid()}.started").touch()
    time.sleep(args.seconds)
    (trace / f"{os.getpid()}.woke").touch()
    return "woke"


@task(timeout=5)
def shout_sync(text: str, args: BaseModel) -> str:
    """Sync and quick: runs beside a nap that is killed."""
    return text.upper()
