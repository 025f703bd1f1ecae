"""The report of a run, and how it is printed: as text for people, as JSON for tools."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from backend.bench.figures import Latency, Layout, Spread, Throughput


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


def as_json(report: Report) -> str:
    body = asdict(report)
    body["ok"] = report.ok
    return json.dumps(body, indent=2)


def format_report(report: Report) -> str:
    lines = _header_lines(report)
    if report.throughput is not None:
        lines += _throughput_lines(report.throughput, report.layout.cpus or 1)
    if report.latency is not None:
        lines += _latency_lines(report.latency)
    lines.append("")
    lines += _verdict_lines(report)
    return "\n".join(lines)


def _header_lines(report: Report) -> list[str]:
    layout = report.layout
    return [
        f"courier bench queue, {report.date}",
        f"  command     {report.command}",
        f"  processes   1 web, {layout.workers} worker(s) (concurrency {layout.worker_concurrency})"
        f", {layout.redis}",
        f"  machine     {layout.cpus} CPUs, Python {layout.python}, {layout.platform}",
        f"  client      this process, {layout.client_loop}, WebSocket extensions: "
        f"{layout.websocket_extensions}",
    ]


def _throughput_lines(figures: Throughput, cpus: int) -> list[str]:
    wall = figures.cpu_seconds.get("wall", 0.0) or 1.0
    machine = figures.cpu_seconds.get("machine", 0.0)
    return [
        "",
        f"  throughput  {figures.jobs} uppercase jobs over {figures.connections} connection(s),"
        f" up to {figures.window} outstanding per connection",
        f"              {figures.jobs_per_second:,.0f} jobs/s"
        f" ({figures.seconds:.2f}s from first send to last result)",
        f"              latency under load: {_spread(figures.latency_ms)}",
        f"              CPU over the {wall:.2f}s phase: {_process_shares(figures, wall)}",
        f"              whole machine: {machine:.2f}s busy,"
        f" {machine / wall / cpus:.0%} of {cpus} CPUs",
    ]


def _process_shares(figures: Throughput, wall: float) -> str:
    return ", ".join(
        f"{name} {seconds:.2f}s ({seconds / wall:.0%})"
        for name, seconds in figures.cpu_seconds.items()
        if name not in ("wall", "machine")
    )


def _latency_lines(figures: Latency) -> list[str]:
    return [
        "",
        f"  latency     {figures.jobs} jobs one at a time on one connection"
        f" (after {figures.warmup} unmeasured)",
        f"              {_spread(figures.latency_ms)}",
    ]


def _verdict_lines(report: Report) -> list[str]:
    if report.ok:
        return ["  ok: every job got exactly one result, upper-cased, events in seq order"]
    return [f"  PROBLEMS: {report.problem_count}", *(f"    {p}" for p in report.problems)]


def _spread(spread: Spread | None) -> str:
    if spread is None:
        return "no samples"
    return (
        f"p50 {spread.p50:.2f} ms, p99 {spread.p99:.2f} ms,"
        f" mean {spread.mean:.2f} ms, max {spread.max:.2f} ms"
    )
