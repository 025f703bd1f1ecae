"""`courier bench peers` as text: one table per workload, every system side by side with how
many times Courier is ahead of it, then the settings and versions each row ran with."""

from __future__ import annotations

from typing import Any

from backend.bench.peers_report import PeersReport, QueueRow, RoomRow

HEAD = "  {:<14}{:>13}{:>11}{:>11}{:>11}   {}"


def as_text(report: PeersReport) -> str:
    machine = report.machine
    lines = [
        f"courier bench peers, {report.date}",
        f"  command   {report.command}",
        f"  machine   {machine['cpus']} CPUs, Python {machine['python']}, {machine['platform']},"
        f" load average {machine['load_average_at_start']} at start",
        f"  redis     {machine['redis_server']}: a private non-persistent one per system",
        "  Courier is Nx ahead: Courier's rate over the system's, the system's latency over"
        " Courier's",
    ]
    if report.queue:
        lines += _queue_lines(report)
    if report.fanout:
        lines += _fanout_lines(report)
    lines += [f"  skipped   {name}: {why}" for name, why in report.skipped.items()]
    lines.append("")
    lines.append("  ok: Courier's every job and delivery came back right" if report.ok else
                 "  PROBLEMS: Courier's own run did not come back right")  # fmt: skip
    return "\n".join(lines)


def _queue_lines(report: PeersReport) -> list[str]:
    courier = report.queue.get("courier")
    rows, work = report.queue, report.workload
    lines = [
        "",
        "  queue: uppercase jobs, each result back to the producer; one worker process each",
        f"    throughput: {work['jobs']} jobs, at most {work['window']} outstanding; latency:"
        f" {work['latency_jobs']} jobs one at a time (after {work['unmeasured_first']} unmeasured);"
        f" a peer's phase stops sending after {work['peer_phase_seconds']:g}s",
        HEAD.format("system", "jobs/s", "Courier x", "p50 ms", "p99 ms", "Courier x (p50)"),
    ]
    for key, row in rows.items():
        failed = row.failed and f"{row.failed}; {'; '.join(row.problems[:2]) or 'no detail'}"
        lines.append(_figure_line(key, row.summary(courier), "jobs_per_second", failed))
    lines.append("")
    for key, row in rows.items():
        lines.append(f"  {key:<14}{row.settings}{_cut(row)}")
        lines.append(f"  {'':<14}{_versions(row.versions)}")
    return lines


def _fanout_lines(report: PeersReport) -> list[str]:
    courier = report.fanout.get("courier")
    figures = next((row.figures for row in report.fanout.values() if row.figures), None)
    shape = (
        f"{figures.members} members over 2 web processes, one sender, {figures.messages}"
        f" messages, up to {figures.window} not yet back at the sender"
        if figures
        else "no figures"
    )
    lines = [
        "",
        f"  fan-out: one room, {shape}",
        HEAD.format("system", "deliveries/s", "Courier x", "p50 ms", "p99 ms", "Courier x (p50)"),
    ]
    for key, row in report.fanout.items():
        lines.append(_figure_line(key, row.summary(courier), "deliveries_per_second", row.failed))
    lines.append("")
    for key, room in report.fanout.items():
        full = room.figures and f"; room full {room.figures.join_seconds:.2f}s after the first join"
        lines.append(f"  {key:<14}{room.settings}{full or ''}")
        cpu = room.summary(None)["web_cpu_us_per_delivery"]
        if cpu is not None:
            lines.append(f"  {'':<14}web processes' CPU: {cpu:.1f} us per delivery")
        lines.append(f"  {'':<14}{_versions(room.versions)}")
    return lines


def _figure_line(key: str, summary: dict[str, Any], rate: str, failed: str | None) -> str:
    if failed:
        return f"  {key:<14}FAILED: {failed}"
    ahead = summary.get("courier_ahead") or {}
    return HEAD.format(
        key,
        f"{summary[rate]:,.0f}",
        _times(ahead.get(rate)),
        f"{summary['p50_ms']:.2f}" if summary["p50_ms"] is not None else "-",
        f"{summary['p99_ms']:.2f}" if summary["p99_ms"] is not None else "-",
        _times(ahead.get("p50_ms")),
    )


def _times(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio is not None else "-"


def _cut(row: QueueRow | RoomRow) -> str:
    if not isinstance(row, QueueRow):
        return ""
    cuts = []
    if row.cut:
        cuts.append(f"throughput stopped at its time budget after {row.jobs} jobs")
    if row.latency_cut:
        cuts.append(f"latency stopped at its time budget after {row.latency_jobs} jobs")
    return f" ({'; '.join(cuts)})" if cuts else ""


def _versions(versions: dict[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items()) or "versions ?"
