"""What a run found, printed as text for people or as JSON for tools. Both benches' reports are
built from the same pieces, so their lines read alike and their JSON has the same shape."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, cast

from backend.bench.figures import Fanout, Latency, Layout, Spread, Throughput

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

INDENT = " " * 14  # continuation lines line up under the first line's text


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Verdict(Protocol):
    """A report as a run prints it: whether everything came back right, as text or as JSON."""

    @property
    def ok(self) -> bool: ...

    def as_text(self) -> str: ...

    def as_json(self) -> str: ...


class _Findings:
    """What both reports share: ok when no problem was found, and JSON of every field."""

    problem_count: int

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def as_json(self) -> str:
        """The fields as they are, with `ok` added, since a property is not a field."""
        body = asdict(cast("DataclassInstance", self))
        body["ok"] = self.ok
        return json.dumps(body, indent=2)


@dataclass
class Report(_Findings):
    """Everything a queue run found; a phase it did not reach stays None."""

    command: str
    date: str
    layout: Layout
    throughput: Throughput | None = None
    latency: Latency | None = None
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def as_text(self) -> str:
        lines = _header_lines(self)
        if self.throughput is not None:
            lines += _throughput_lines(self.throughput, self.layout.cpus or 1)
        if self.latency is not None:
            lines += _latency_lines(self.latency)
        lines.append("")
        ok = "every job got exactly one result, upper-cased, events in seq order"
        lines += _verdict_lines(self.problem_count, self.problems, ok)
        return "\n".join(lines)


@dataclass
class FanoutReport(_Findings):
    """Everything a fan-out run found."""

    command: str
    date: str
    layout: Layout
    fanout: Fanout
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def as_text(self) -> str:
        layout, figures = self.layout, self.fanout
        lines = [
            f"courier bench fanout, {self.date}",
            f"  command     {self.command}",
            f"  processes   {layout.web} web, no workers, {layout.redis}",
            *_machine_lines(layout, "this process (the sender and half the members) and a helper"),
            "",
            *_room_lines(figures, layout.web),
            *_fanout_lines(figures),
            *_cpu_lines(figures.cpu_seconds, layout.cpus or 1),
            "",
        ]
        ok = (
            "every member got every message exactly once, all in the same order,"
            " events in seq (room events in offset) order"
        )
        lines += _verdict_lines(self.problem_count, self.problems, ok)
        return "\n".join(lines)


def _header_lines(report: Report) -> list[str]:
    layout = report.layout
    return [
        f"courier bench queue, {report.date}",
        f"  command     {report.command}",
        f"  processes   1 web, {layout.workers} worker(s) (concurrency {layout.worker_concurrency})"
        f", {layout.redis}",
        *_machine_lines(layout),
    ]


def _machine_lines(layout: Layout, client: str = "this process") -> list[str]:
    return [
        f"  machine     {layout.cpus} CPUs, Python {layout.python}, {layout.platform}",
        f"  client      {client}, {layout.client_loop}, WebSocket extensions: "
        f"{layout.websocket_extensions}",
    ]


def _throughput_lines(figures: Throughput, cpus: int) -> list[str]:
    return [
        "",
        f"  throughput  {figures.jobs} uppercase jobs over {figures.connections} connection(s),"
        f" up to {figures.window} outstanding per connection",
        f"{INDENT}{figures.jobs_per_second:,.0f} jobs/s"
        f" ({figures.seconds:.2f}s from first send to last result)",
        f"{INDENT}latency under load: {_spread_text(figures.latency_ms)}",
        *_cpu_lines(figures.cpu_seconds, cpus),
    ]


def _latency_lines(figures: Latency) -> list[str]:
    return [
        "",
        f"  latency     {figures.jobs} jobs one at a time on one connection"
        f" (after {figures.warmup} unmeasured)",
        f"{INDENT}{_spread_text(figures.latency_ms)}",
    ]


def _room_lines(figures: Fanout, webs: int) -> list[str]:
    members = figures.members + figures.not_reading
    split = " + ".join(str(len(range(i, members, webs))) for i in range(webs))
    return [
        f"  room        {members} members in one room, {split} over {webs} web processes",
        f"{INDENT}every member in and seeing all the others"
        f" {figures.join_seconds:.2f}s after the first join",
    ]


def _fanout_lines(figures: Fanout) -> list[str]:
    return [
        f"  fan-out     m0 sent {figures.messages} messages,"
        f" up to {figures.window} not yet back at itself",
        f"{INDENT}{figures.messages_per_second:,.0f} messages/s to all {figures.members}"
        f" {'reading ' if figures.not_reading else ''}members,"
        f" {figures.deliveries_per_second:,.0f} deliveries/s"
        f" ({figures.seconds:.2f}s from first send to last delivery)",
        f"{INDENT}latency, send to each member's receipt: {_spread_text(figures.latency_ms)}",
        *_not_reading_lines(figures),
    ]


def _not_reading_lines(figures: Fanout) -> list[str]:
    """Members that joined and read nothing: left out of the figures above; how they ended."""
    if not figures.not_reading:
        return []
    ends = ", ".join(
        f"{count} still open" if how == "open" else f"{count} closed with {how}"
        for how, count in sorted(figures.closed.items())
    )
    return [
        f"  not reading {figures.not_reading} members joined and read nothing (left out of the"
        f" figures above): {ends}"
    ]


def _cpu_lines(cpu_seconds: dict[str, float], cpus: int) -> list[str]:
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


def _verdict_lines(count: int, problems: list[str], ok: str) -> list[str]:
    if count == 0:
        return [f"  ok: {ok}"]
    return [f"  PROBLEMS: {count}", *(f"    {p}" for p in problems)]


def _spread_text(spread: Spread | None) -> str:
    if spread is None:
        return "no samples"
    return (
        f"p50 {spread.p50:.2f} ms, p99 {spread.p99:.2f} ms,"
        f" mean {spread.mean:.2f} ms, max {spread.max:.2f} ms"
    )
