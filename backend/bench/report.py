"""The report of a queue run, and the pieces every bench's report is printed with: as text for
people, as JSON for tools."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from backend.bench.figures import Latency, Layout, Spread, Throughput

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

INDENT = " " * 14  # continuation lines line up under the first line's text


@dataclass
class Report:
    """Everything a run found; a phase it did not reach stays None."""

    command: str
    date: str
    layout: Layout
    throughput: Throughput | None = None
    latency: Latency | None = None
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


def as_json(report: DataclassInstance, ok: bool) -> str:
    """The report's fields as they are, with `ok` added, since a property is not a field."""
    body = asdict(report)
    body["ok"] = ok
    return json.dumps(body, indent=2)


def format_report(report: Report) -> str:
    lines = _header_lines(report)
    if report.throughput is not None:
        lines += _throughput_lines(report.throughput, report.layout.cpus or 1)
    if report.latency is not None:
        lines += _latency_lines(report.latency)
    lines.append("")
    ok = "every job got exactly one result, upper-cased, events in seq order"
    lines += verdict_lines(report.problem_count, report.problems, ok)
    return "\n".join(lines)


def _header_lines(report: Report) -> list[str]:
    layout = report.layout
    return [
        f"courier bench queue, {report.date}",
        f"  command     {report.command}",
        f"  processes   1 web, {layout.workers} worker(s) (concurrency {layout.worker_concurrency})"
        f", {layout.redis}",
        *machine_lines(layout),
    ]


def machine_lines(layout: Layout) -> list[str]:
    return [
        f"  machine     {layout.cpus} CPUs, Python {layout.python}, {layout.platform}",
        f"  client      this process, {layout.client_loop}, WebSocket extensions: "
        f"{layout.websocket_extensions}",
    ]


def _throughput_lines(figures: Throughput, cpus: int) -> list[str]:
    return [
        "",
        f"  throughput  {figures.jobs} uppercase jobs over {figures.connections} connection(s),"
        f" up to {figures.window} outstanding per connection",
        f"{INDENT}{figures.jobs_per_second:,.0f} jobs/s"
        f" ({figures.seconds:.2f}s from first send to last result)",
        f"{INDENT}latency under load: {spread_text(figures.latency_ms)}",
        *cpu_lines(figures.cpu_seconds, cpus),
    ]


def cpu_lines(cpu_seconds: dict[str, float], cpus: int) -> list[str]:
    """Each process's CPU seconds over a phase, and the whole machine's: if the machine was much
    busier than the processes listed, something else competed and the run should be repeated."""
    wall = cpu_seconds.get("wall", 0.0) or 1.0
    machine = cpu_seconds.get("machine", 0.0)
    shares = ", ".join(
        f"{name} {seconds:.2f}s ({seconds / wall:.0%})"
        for name, seconds in cpu_seconds.items()
        if name not in ("wall", "machine")
    )
    return [
        f"{INDENT}CPU over the {wall:.2f}s phase: {shares}",
        f"{INDENT}whole machine: {machine:.2f}s busy, {machine / wall / cpus:.0%} of {cpus} CPUs",
    ]


def _latency_lines(figures: Latency) -> list[str]:
    return [
        "",
        f"  latency     {figures.jobs} jobs one at a time on one connection"
        f" (after {figures.warmup} unmeasured)",
        f"{INDENT}{spread_text(figures.latency_ms)}",
    ]


def verdict_lines(count: int, problems: list[str], ok: str) -> list[str]:
    if count == 0:
        return [f"  ok: {ok}"]
    return [f"  PROBLEMS: {count}", *(f"    {p}" for p in problems)]


def spread_text(spread: Spread | None) -> str:
    if spread is None:
        return "no samples"
    return (
        f"p50 {spread.p50:.2f} ms, p99 {spread.p99:.2f} ms,"
        f" mean {spread.mean:.2f} ms, max {spread.max:.2f} ms"
    )
