"""The faults themselves: each waits for its moment in the load, then stops a process the way a
crash or an operator would, and says what it did.

Processes are signalled from the event loop's own thread (never a worker thread: a child
started from a thread that ends would get SIGTERM with it, see backend.procs.child), and waits
are asynchronous, so the session keeps reading while Redis is down.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from backend.bench.client import BenchError
from backend.bench.faults_client import Session
from backend.bench.faults_trace import Ledger
from backend.bench.stack import Stack
from backend.procs.child import Child
from backend.procs.redis_server import RedisServer, ping

DOWN_SECONDS = 1.0  # Redis stays down this long before it is started again
MOMENT_LIMIT = 60.0  # seconds a fault waits for its moment before it gives up


@dataclass
class Injection:
    """What was done, and when (seconds on the scenario's clock)."""

    name: str
    at: float | None = None
    what: str = "not injected: the load ended before its moment"
    dead: str = ""  # the consumer id of a killed worker


async def inject(injection: Injection, stack: Stack, session: Session) -> None:
    if injection.name in ("redis_restart", "redis_kill"):
        await _redis_down(injection, stack, session, kill=injection.name == "redis_kill")
    elif injection.name == "worker_kill":
        await _worker_down(injection, stack, session)
    else:
        await _web_down(injection, stack, session)


async def _moment(session: Session, ready: Callable[[], bool]) -> bool:
    """Waits until `ready()`; False if the load ended (or the limit passed) first."""
    waited = 0.0
    while not ready():
        if session.over() or waited > MOMENT_LIMIT:
            return False
        await asyncio.sleep(0.01)
        waited += 0.01
    return True


async def _redis_down(injection: Injection, stack: Stack, session: Session, kill: bool) -> None:
    server, ledger = stack.redis, session.ledger
    assert server is not None, "the faults bench starts its own Redis"
    assert server.child is not None, "and it runs"
    if not await _moment(session, lambda: ledger.accepted >= _third(ledger)):
        return
    injection.at, sent, accepted = ledger.clock(), session.sent, ledger.accepted
    if kill:
        server.kill()
    else:
        await _terminated(server.child)
    gone = ledger.clock()
    await asyncio.sleep(DOWN_SECONDS)
    await _started_again(server)
    how = "kill -9" if kill else "SIGTERM"
    injection.what = (
        f"Redis {how} at {injection.at:.2f}s ({sent} frames sent, {accepted} accepted), exited"
        f" {gone - injection.at:.2f}s later, answering again at {ledger.clock():.2f}s"
    )


async def _terminated(child: Child) -> None:
    """SIGTERM (Redis writes what it must and exits), SIGKILL if it takes over 10 s."""
    child.signal(signal.SIGTERM)
    for _ in range(1000):
        if child.exited:
            return
        await asyncio.sleep(0.01)
    child.kill()


async def _started_again(server: RedisServer) -> None:
    """The same port, directory and AOF; answering PING once it has read its AOF back."""
    child = Child("redis-server", server.command(), server.log_path)
    server.child = child.start(dict(os.environ))
    for _ in range(1000):
        if ping(server.host, server.port, timeout=0.2):
            return
        if child.exited:
            break
        await asyncio.sleep(0.02)
    raise BenchError(f"redis-server did not come back: {server.log_tail()}")


async def _worker_down(injection: Injection, stack: Stack, session: Session) -> None:
    """Kills worker-1 once it holds jobs and more wait in the queue than both workers run."""
    worker = next(child for child in stack.children if child.name == "worker-1")
    mine = f":{worker.pid}"
    jobs = session.ledger.jobs
    backlog = min(2 * stack.plan.concurrency, len(session.ledger.frames) // 4)

    def held() -> int:
        """Jobs whose last start was worker-1's and that have not ended."""
        return sum(
            1 for j in jobs.values() if _last_start(j.starts()).endswith(mine) and not j.finals
        )

    def waiting() -> int:
        return sum(1 for job in jobs.values() if job.accepted and not job.events)

    if not await _moment(session, lambda: held() > 0 and waiting() >= backlog):
        return
    holding, queued = held(), waiting()
    worker.kill()
    injection.at = session.ledger.clock()
    starts = [s for job in jobs.values() for s in job.starts() if s[1].endswith(mine)]
    injection.dead = starts[0][1] if starts else f"worker:?{mine}"
    injection.what = (
        f"kill -9 of worker-1 at {injection.at:.2f}s, holding {holding} jobs with"
        f" {queued} waiting; COURIER_VISIBILITY_TIMEOUT={_visibility(stack)}"
    )


def _last_start(starts: list[tuple[float, str, int]]) -> str:
    return starts[-1][1] if starts else ""


def _visibility(stack: Stack) -> str:
    return f"{stack.plan.settings.get('COURIER_VISIBILITY_TIMEOUT', '30')}s"


async def _web_down(injection: Injection, stack: Stack, session: Session) -> None:
    """Kills the web process holding the socket while jobs are in flight."""
    ledger = session.ledger
    if not await _moment(
        session, lambda: ledger.accepted >= _third(ledger) and ledger.open_jobs > 0
    ):
        return
    web = next(child for child in stack.children if child.name == f"web-{session.web + 1}")
    web.kill()
    injection.at = ledger.clock()
    injection.what = (
        f"kill -9 of {web.name} (holding the socket) at {injection.at:.2f}s,"
        f" {session.sent} frames sent, {ledger.accepted} accepted, {ledger.open_jobs} not ended"
    )


def _third(ledger: Ledger) -> int:
    """Mid-load: a third of the jobs accepted, so some are done, some running, some queued."""
    return max(1, len(ledger.frames) // 3)
