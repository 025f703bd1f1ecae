"""The task processes: results and errors come back, an overrun or cancelled call kills its
process (and only that one), a process that dies fails its call, and close() kills them all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.core.sandbox import Overrun, Sandbox
from backend.core.tasks import TaskError
from tests.processes import wait_until
from tests.sample import calls

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

LONG = 10.0  # a limit no call here reaches
ROOT = Path(__file__).resolve().parents[3]
PARENT = """
import asyncio
from backend.core.sandbox import Sandbox
from tests.sample import calls

async def main():
    pool = Sandbox(1)
    print(await pool.run(calls.pid, (), 10), flush=True)
    await pool.run(calls.nap, (30,), 60)

asyncio.run(main())
"""


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    pool = Sandbox(2)
    yield pool
    pool.close()


def is_alive(pid: int) -> bool:
    """Some thread of it is neither gone nor a zombie. Every thread counts: the leader is a zombie
    while another thread still exits, holding the pipes (and an orphan's zombie may wait for a
    lazy PID 1)."""
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return any(state != "Z" for state in states)


async def gone(pid: int) -> bool:
    """The killed process has been reaped (by the forkserver), within a second."""
    for _ in range(100):
        if not is_alive(pid):
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_call_returns_its_result_in_a_reused_process(sandbox: Sandbox) -> None:
    assert await sandbox.run(calls.add, (2, 3), LONG) == 5
    first = await sandbox.run(calls.pid, (), LONG)
    assert first != os.getpid()
    assert await sandbox.run(calls.pid, (), LONG) == first
    assert sandbox.processes == 1


async def test_an_exception_comes_back_as_one_line_with_its_place(sandbox: Sandbox) -> None:
    with pytest.raises(TaskError, match=r"^ValueError: bad input \(at calls\.py:\d+\)$"):
        await sandbox.run(calls.fail, ("bad input",), LONG)
    assert await sandbox.run(calls.add, (1, 1), LONG) == 2, "the process survives an exception"


async def test_an_overrun_kills_its_process_and_spares_the_others(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    marker = tmp_path / "woke"
    victim = await sandbox.run(calls.pid, (), LONG)
    overrun = asyncio.ensure_future(sandbox.run(calls.nap, (5.0, str(marker)), 0.3))
    await asyncio.sleep(0.05)  # the nap holds the idle process; the next call starts another
    bystander = asyncio.ensure_future(sandbox.run(calls.nap, (0.5,), LONG))
    with pytest.raises(Overrun):
        await overrun
    assert await gone(victim), "the overrunning process was killed"
    assert await bystander not in (victim, os.getpid()), "the other call finished in its process"
    assert not marker.exists()
    assert await sandbox.run(calls.add, (2, 2), LONG) == 4, "a new process takes its place"


async def test_a_process_that_dies_fails_its_call_and_is_replaced(sandbox: Sandbox) -> None:
    with pytest.raises(TaskError, match=r"process running this task died \(killed by signal 9\)"):
        await sandbox.run(calls.die, (), LONG)
    assert await sandbox.run(calls.add, (1, 2), LONG) == 3


async def test_an_idle_process_that_died_is_not_used_again(sandbox: Sandbox) -> None:
    victim = await sandbox.run(calls.pid, (), LONG)
    os.kill(victim, 9)
    assert await gone(victim)
    assert await sandbox.run(calls.pid, (), LONG) != victim


async def test_a_cancelled_call_kills_its_process(sandbox: Sandbox) -> None:
    victim = await sandbox.run(calls.pid, (), LONG)
    call = asyncio.ensure_future(sandbox.run(calls.nap, (5.0,), LONG))
    await asyncio.sleep(0.1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await gone(victim)
    assert sandbox.processes == 0


async def test_calls_beyond_the_size_wait_for_a_free_process() -> None:
    pool = Sandbox(1)
    try:
        pids = await asyncio.gather(*(pool.run(calls.nap, (0.05,), LONG) for _ in range(3)))
        assert len(set(pids)) == 1
        assert pool.processes == 1
    finally:
        pool.close()


async def test_close_kills_every_process(sandbox: Sandbox) -> None:
    pids = await asyncio.gather(*(sandbox.run(calls.nap, (0.1,), LONG) for _ in range(2)))
    busy = asyncio.ensure_future(sandbox.run(calls.nap, (5.0,), LONG))
    await asyncio.sleep(0.1)
    sandbox.close()
    assert sandbox.processes == 0
    for pid in pids:
        assert await gone(pid)
    with pytest.raises(TaskError, match="died"):
        await busy


async def test_what_cannot_cross_a_process_boundary_is_a_clear_error(sandbox: Sandbox) -> None:
    with pytest.raises(TaskError, match="must be a module-level function"):
        await sandbox.run(lambda: 1, (), LONG)
    with pytest.raises(TaskError, match="the task's result cannot be sent back"):
        await sandbox.run(calls.unsendable, (), LONG)
    assert await sandbox.run(calls.add, (0, 0), LONG) == 0


def test_a_worker_killed_mid_call_leaves_no_task_running() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert is_alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    wait_until(lambda: not is_alive(child), 2, "the task process to end with its worker")
