"""The report of a fan-out run, printed with the same pieces as the queue's."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.bench.figures import Fanout, Layout
from backend.bench.report import INDENT, cpu_lines, machine_lines, spread_text, verdict_lines


@dataclass
class FanoutReport:
    """Everything a fan-out run found."""

    command: str
    date: str
    layout: Layout
    fanout: Fanout
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


def format_fanout(report: FanoutReport) -> str:
    layout, figures = report.layout, report.fanout
    lines = [
        f"courier bench fanout, {report.date}",
        f"  command     {report.command}",
        f"  processes   {layout.web} web, no workers, {layout.redis}",
        *machine_lines(layout),
        "",
        *_room_lines(figures, layout.web),
        *_fanout_lines(figures),
        *cpu_lines(figures.cpu_seconds, layout.cpus or 1),
        "",
    ]
    ok = "every member got every message exactly once, all in the same order, events in seq order"
    lines += verdict_lines(report.problem_count, report.problems, ok)
    return "\n".join(lines)


def _room_lines(figures: Fanout, webs: int) -> list[str]:
    split = " + ".join(str(len(range(i, figures.members, webs))) for i in range(webs))
    return [
        f"  room        {figures.members} members in one room, {split} over {webs} web processes",
        f"{INDENT}every member in and seeing all the others"
        f" {figures.join_seconds:.2f}s after the first join",
    ]


def _fanout_lines(figures: Fanout) -> list[str]:
    return [
        f"  fan-out     m0 sent {figures.messages} messages,"
        f" up to {figures.window} not yet back at itself",
        f"{INDENT}{figures.messages_per_second:,.0f} messages/s to all {figures.members} members,"
        f" {figures.deliveries_per_second:,.0f} deliveries/s"
        f" ({figures.seconds:.2f}s from first send to last delivery)",
        f"{INDENT}latency, send to each member's receipt: {spread_text(figures.latency_ms)}",
    ]
