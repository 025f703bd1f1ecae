"""CPU time read from /proc, so a report shows which process the time went to."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each process, of the bench client and of the whole machine."""
    snapshot = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    snapshot["bench client"] = time.process_time()
    snapshot["machine"] = _machine_busy_seconds()
    return snapshot


def cpu_spent(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """CPU seconds spent between two snapshots, with the wall-clock seconds as `wall`."""
    spent = {name: round(after[name] - before[name], 2) for name in before}
    spent["wall"] = round(wall, 2)
    return spent


@contextlib.contextmanager
def cpu_clock(pids: dict[str, int]) -> Iterator[dict[str, float]]:
    """The CPU seconds each process spends inside the block, filled in on the way out (as
    `cpu_spent` gives them), so a phase's figures leave out start-up and warm-up."""
    spent: dict[str, float] = {}
    before, started = cpu_snapshot(pids), time.monotonic()
    yield spent
    spent.update(cpu_spent(before, cpu_snapshot(pids), time.monotonic() - started))


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (0.0 where there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """Busy CPU time of the whole machine: shows whether anything else competed for the CPUs."""
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    busy = sum(ticks[0:3]) + sum(ticks[5:7])  # user, nice, system, irq, softirq
    return busy / os.sysconf("SC_CLK_TCK")
