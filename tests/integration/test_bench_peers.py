"""`courier bench peers` as a user runs it, tiny: Courier and every peer whose environment is
made (`courier bench peers --install`) get every job and every chat delivery back, checked by
the bench itself; a peer without its environment is skipped with a note, not failed. Figures
are never judged here."""

from __future__ import annotations

import json
import subprocess
import sys

from backend.bench.peers_envs import environments, versions
from backend.bench.peers_queue import VARIANTS

TINY = ["--jobs", "20", "--latency-jobs", "3", "--members", "4", "--messages", "10"]


def test_every_system_gets_every_job_and_delivery_back() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "backend.cli", "bench", "peers", *TINY, "--seconds", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    ready = {name for name, env in environments().items() if versions(env) is not None}
    expected = {"courier"} | {v.key for v in VARIANTS if v.env in ready}
    assert set(report["systems"]) == expected
    rooms = {"courier"} | ({"broadcaster"} & ready)
    assert set(report["fanout"]) == rooms
    assert set(report["skipped"]) == set(environments()) - ready
    for name, row in {**report["systems"], **report["fanout"]}.items():
        assert row["ok"], (name, row["failed"], row["problems"])
    courier = report["systems"]["courier"]
    assert courier["jobs_per_second"] > 0 and courier["p99_ms"] >= courier["p50_ms"] > 0
    for name in expected - {"courier"}:
        assert report["systems"][name]["courier_ahead"]["jobs_per_second"] is not None, name
