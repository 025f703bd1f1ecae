"""What `courier bench peers` found: one row per system and workload, each compared with
Courier's in the same run, as text for people or JSON for tools.

A row's figures are shown only when every job (every delivery) came back right; a system that
lost or garbled any prints FAILED with the count instead, since a figure bought by dropping
work is no comparison. "Courier is Nx ahead" reads the same way for every figure: Courier's
jobs/s (deliveries/s) over the system's, and the system's latency over Courier's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from backend.bench.figures import Fanout, Spread


@dataclass
class QueueRow:
    name: str
    settings: str
    versions: dict[str, str] = field(default_factory=dict)
    jobs: int = 0  # throughput jobs that came back right
    seconds: float = 0.0  # first send to last result, throughput phase
    cut: bool = False  # the throughput phase stopped sending at its time budget
    latency: Spread | None = None
    latency_jobs: int = 0  # measured one-at-a-time jobs
    latency_cut: bool = False
    sent: int = 0  # every job sent, all phases
    right: int = 0  # every job that came back right, all phases
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    error: str | None = None  # the bench could not run it to the end

    @property
    def jobs_per_second(self) -> float | None:
        return self.jobs / self.seconds if self.seconds and not self.failed else None

    @property
    def failed(self) -> str | None:
        if self.error:
            return self.error
        if self.problem_count or self.right < self.sent:
            return f"{max(self.sent - self.right, self.problem_count)} of {self.sent} jobs"
        return None

    def summary(self, courier: QueueRow | None) -> dict[str, Any]:
        spread = None if self.failed else self.latency
        body: dict[str, Any] = {
            "jobs_per_second": _round(self.jobs_per_second),
            "p50_ms": _round(spread.p50 if spread else None, 2),
            "p99_ms": _round(spread.p99 if spread else None, 2),
            "ok": self.failed is None,
            "failed": self.failed,
            **{k: v for k, v in asdict(self).items() if k not in ("latency", "error")},
            "latency_ms": asdict(spread) if spread else None,
        }
        if courier is not None and self is not courier:
            body["courier_ahead"] = _ahead(courier.summary(None), body, "jobs_per_second")
        return body


@dataclass
class RoomRow:
    name: str
    settings: str
    versions: dict[str, str] = field(default_factory=dict)
    figures: Fanout | None = None
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    error: str | None = None

    @property
    def failed(self) -> str | None:
        if self.error or self.figures is None:
            return self.error or "no figures"
        if self.problem_count:
            return f"{self.problem_count} problems: {'; '.join(self.problems[:3])}"
        return None

    def summary(self, courier: RoomRow | None) -> dict[str, Any]:
        figures = None if self.failed else self.figures
        spread = figures.latency_ms if figures else None
        body: dict[str, Any] = {
            "deliveries_per_second": _round(figures.deliveries_per_second if figures else None),
            "web_cpu_us_per_delivery": _round(_web_cpu(figures)),
            "p50_ms": _round(spread.p50 if spread else None, 2),
            "p99_ms": _round(spread.p99 if spread else None, 2),
            "ok": self.failed is None,
            "failed": self.failed,
            **{k: v for k, v in asdict(self).items() if k != "error"},
        }
        if courier is not None and self is not courier:
            body["courier_ahead"] = _ahead(courier.summary(None), body, "deliveries_per_second")
        return body


def _web_cpu(figures: Fanout | None) -> float | None:
    """The web processes' CPU per delivery: what compares the servers when the machine, shared
    with the bench's two client processes, is full."""
    if figures is None or not figures.deliveries_per_second:
        return None
    web = sum(s for name, s in figures.cpu_seconds.items() if name.startswith("web"))
    return 1e6 * web / (figures.deliveries_per_second * figures.seconds)


def row_from_phases(name: str, settings: str, phases: dict[str, dict[str, Any]]) -> QueueRow:
    """A peer's row from what its producer (peer_apps/peer_drive.py) answered."""
    row = QueueRow(name, settings)
    throughput, latency = phases["throughput"], phases["latency"]
    row.jobs, row.cut = int(throughput["ok"]), bool(throughput["cut"])
    row.seconds = max(0.0, float(throughput["last_ended"]) - float(throughput["first_sent"]))
    samples = [float(s) for s in latency["samples"]]
    row.latency, row.latency_jobs = Spread.of(samples), len(samples)
    row.latency_cut = bool(latency["cut"])
    for phase in phases.values():
        row.sent += int(phase["sent"])
        row.right += int(phase["ok"])
        row.problems += [str(p) for p in phase["problems"]]
        row.problem_count += int(phase["problem_count"])
    return row


@dataclass
class PeersReport:
    command: str
    date: str
    machine: dict[str, Any]
    workload: dict[str, Any]
    queue: dict[str, QueueRow] = field(default_factory=dict)
    fanout: dict[str, RoomRow] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Courier's rows came back right (a peer's failure is a finding, not the bench's)."""
        rows: list[QueueRow | RoomRow] = [*self.queue.values(), *self.fanout.values()]
        return all(row.failed is None for row in rows if row.name == "Courier")

    def as_json(self) -> str:
        courier, room = self.queue.get("courier"), self.fanout.get("courier")
        body = {
            "command": self.command,
            "date": self.date,
            "systems": {key: row.summary(courier) for key, row in self.queue.items()},
            "fanout": {key: row.summary(room) for key, row in self.fanout.items()},
            "workload": self.workload,
            "skipped": self.skipped,
            "machine": self.machine,
            "ok": self.ok,
        }
        return json.dumps(body, indent=2)


def _ahead(courier: dict[str, Any], other: dict[str, Any], rate: str) -> dict[str, float | None]:
    """How many times Courier is ahead on each figure (over 1: Courier does better)."""
    return {
        rate: _ratio(courier[rate], other[rate]),
        "p50_ms": _ratio(other["p50_ms"], courier["p50_ms"]),
        "p99_ms": _ratio(other["p99_ms"], courier["p99_ms"]),
    }


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return round(top / bottom, 2) if top and bottom else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
