"""Running one long-lived async role (web, worker, subscriber) as a plain OS process.

SIGTERM and SIGINT set a stop event that the role watches, so it can finish in-flight work and
sign off; a second signal stops it at once. Logging is configured here once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from backend.settings import Settings

log = logging.getLogger("courier")

GC_YOUNG = 20_000  # new container objects between young collections (Python's default: 700)


def configure_logging(settings: Settings, role: str) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s %(levelname)-7s {role}[%(process)d] %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )


def tune_collector() -> None:
    """Python's cyclic collector, at its defaults, runs every 700 new container objects and now
    and then walks every object the process holds: with thousands of sockets, a third to half
    of a web process's CPU in a join storm. Most of those objects (modules, the app, settings)
    live as long as the process; they are frozen out of its view, and young collections run
    less often. Memory that reference counting frees is freed at once as before."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG, 50, 100)


def run_role(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)` until it returns; signals set `stop`, a second one cancels `main`.
    Uses uvloop when installed (it comes with uvicorn[standard]), as uvicorn does."""
    tune_collector()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_supervise(main))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _supervise(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    task = asyncio.ensure_future(main(stop))
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: stopping now", signal.Signals(signum).name)
            task.cancel()
        else:
            log.info("%s: finishing in-flight work, then stopping", signal.Signals(signum).name)
            stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    with contextlib.suppress(asyncio.CancelledError):
        await task
