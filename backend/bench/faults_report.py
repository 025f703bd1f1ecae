"""What `courier bench faults` found: one row per fault, as a table for people or as JSON.

A scenario is ok when every frame got a reply, every accepted job its one final event, no key
made a second job and no frame was refused for another reason than `unavailable`. Re-runs,
`unavailable` replies and resent frames are what a careful client copes with: they are shown,
not judged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from backend.bench.faults_trace import ACCEPTED, RETRY, WAITING, Ledger

MAX_TRACES = 5  # examples shown per kind of problem


@dataclass
class Outcome:
    """One scenario's counts (see docs/operations.md, Faults, for what each one means)."""

    sent: int
    unanswered: int
    accepted: int
    results: int
    lost: int
    duplicated_results: int
    reruns: int | None  # None when the jobs could not be read back from Redis
    started_twice: int  # jobs whose sender was told `started` more than once
    unavailable: int
    resent: int
    errors: int
    false_unavailable: int
    extra_jobs: int
    reconnects: int
    repeated: int
    seconds: float
    fault: str
    task: str
    accepted_before_fault: int = 0
    open_at_fault: int = 0  # accepted before the fault and not yet ended when it came
    takeover_seconds: float | None = None
    taken_over: int | None = None
    traces: list[str] = field(default_factory=list)  # the first problems, event by event
    notes: list[str] = field(default_factory=list)  # the session's drops, resumes, seq jumps
    log: list[str] = field(default_factory=list)  # warnings and errors the processes logged

    @property
    def ok(self) -> bool:
        problems = (self.unanswered, self.lost, self.duplicated_results, self.errors)
        return not any(problems) and not self.extra_jobs


def outcome(ledger: Ledger, runs: dict[str, int] | None, fault: str, task: str) -> Outcome:
    """The counts of one scenario, with the traces of its first problems."""
    frames, jobs = ledger.frames, list(ledger.jobs.values())
    unanswered = [f for f in frames if f.state in (WAITING, RETRY)]
    accepted = [job for job in jobs if job.accepted]
    lost = [job for job in accepted if not job.finals]
    twice = [job for job in accepted if job.finals > 1]
    reruns = None if runs is None else sum(1 for count in runs.values() if count > 1)
    counts = ledger.counts
    traces = [f"unanswered {frame.trace()}" for frame in unanswered[:MAX_TRACES]]
    traces += [f"lost {job.trace()}" for job in lost[:MAX_TRACES]]
    traces += [f"twice {job.trace()}" for job in twice[:MAX_TRACES]]
    return Outcome(
        sent=sum(1 for frame in frames if frame.sends),
        unanswered=len(unanswered),
        accepted=sum(1 for frame in frames if frame.state == ACCEPTED),
        results=sum(1 for job in jobs if job.results),
        lost=len(lost),
        duplicated_results=len(twice),
        reruns=reruns,
        started_twice=sum(1 for job in accepted if len(job.starts()) > 1),
        unavailable=counts["unavailable"],
        resent=counts["resent"],
        errors=counts["errors"],
        false_unavailable=counts["false_unavailable"],
        extra_jobs=counts["extra_jobs"],
        reconnects=counts["reconnects"],
        repeated=counts["repeated"],
        seconds=round(ledger.clock(), 2),
        fault=fault,
        task=task,
        traces=traces,
        notes=ledger.notes,
    )


@dataclass
class FaultsReport:
    command: str
    date: str
    processes: str
    machine: str
    scenarios: dict[str, Outcome] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.scenarios.values())

    def as_json(self) -> str:
        scenarios = {name: _json(outcome) for name, outcome in self.scenarios.items()}
        body: dict[str, Any] = {"command": self.command, "date": self.date}
        body["processes"] = self.processes
        body |= {"machine": self.machine, "ok": self.ok, "scenarios": scenarios}
        return json.dumps(body, indent=2)

    def as_text(self) -> str:
        lines = [
            f"courier bench faults, {self.date}",
            f"  command     {self.command}",
            f"  processes   {self.processes}",
            f"  machine     {self.machine}",
            "",
            *_table(self.scenarios),
            "",
        ]
        for name, outcome in self.scenarios.items():
            lines.append(f"  {name:<14}{outcome.fault}; {outcome.task} jobs, {outcome.seconds}s")
        for name, outcome in self.scenarios.items():
            if not outcome.ok:
                lines += ["", f"  PROBLEMS in {name}:", *(f"    {t}" for t in outcome.traces)]
                lines += [f"    session: {note}" for note in outcome.notes]
                lines += [f"    log: {line}" for line in outcome.log]
        if self.ok:
            lines += ["", "  ok: every frame answered, every accepted job ended exactly once"]
        return "\n".join(lines)


def _json(outcome: Outcome) -> dict[str, Any]:
    body = asdict(outcome)
    body["ok"] = outcome.ok
    if outcome.taken_over is None:  # not a worker scenario
        del body["takeover_seconds"], body["taken_over"]
    return body


COLUMNS = (
    ("sent", "sent"),
    ("unanswered", "unanswered"),
    ("accepted", "accepted"),
    ("results", "results"),
    ("lost", "lost"),
    ("duplicated_results", "twice"),
    ("reruns", "reruns"),
    ("unavailable", "unavailable"),
    ("resent", "resent"),
    ("takeover_seconds", "takeover"),
)


def _table(scenarios: dict[str, Outcome]) -> list[str]:
    heads = ["fault", *(head for _, head in COLUMNS)]
    rows = [
        [name, *(_cell(getattr(o, key)) for key, _ in COLUMNS)] for name, o in scenarios.items()
    ]
    widths = [max(len(row[i]) for row in [heads, *rows]) for i in range(len(heads))]

    def line(row: list[str]) -> str:
        first = row[0].ljust(widths[0])
        return "  " + "  ".join(
            [first, *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        )

    return [line(heads), *(line(row) for row in rows)]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}s"
    return str(value)
