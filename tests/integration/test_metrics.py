"""/metrics as Prometheus reads it: counters that only grow, and a latency histogram that counts
every job, whichever worker ran it."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Opener
from tests.processes import Stack, wait_until

JOBS = 2100  # more than the dashboard keeps in its list of recent latencies


def scrape(base: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            found.setdefault(sample.name, {})[labels] = sample.value
    return found


async def send_jobs(client_ws: Opener, base: str, count: int) -> None:
    client = await client_ws(base)
    for ref in range(count):
        await client.send({"type": "send", "text": f"job {ref}", "ref": ref})
    results = 0
    while results < count:
        event = await client.recv(timeout=30)
        assert event["type"] != "error", event
        results += event["type"] == "result"


async def test_latency_is_a_histogram_of_every_job_and_counters_only_grow(
    ws: Opener, stack: Stack
) -> None:
    stack.settings.update(rate_limit="100000")
    base = stack.web()
    stack.worker()
    stack.worker()
    await send_jobs(ws, base, JOBS)
    first = scrape(base)
    succeeded = first["courier_jobs_total"][(("event", "succeeded"),)]
    assert succeeded == JOBS
    assert first["courier_job_latency_seconds_count"][()] == JOBS, "every job, not a window"
    buckets = first["courier_job_latency_seconds_bucket"]
    counts = [value for _, value in sorted(buckets.items(), key=lambda b: float(b[0][0][1]))]
    assert counts == sorted(counts), "buckets are cumulative"
    assert buckets[(("le", "+Inf"),)] == JOBS
    assert first["courier_job_latency_seconds_sum"][()] > 0

    await send_jobs(ws, base, 10)
    second = scrape(base)
    for name in ("courier_jobs_total", "courier_job_latency_seconds_count"):
        for labels, value in first[name].items():
            assert second[name][labels] >= value, f"{name}{labels} went down"
    assert second["courier_job_latency_seconds_count"][()] == JOBS + 10


async def test_every_web_process_reports_the_same_totals(ws: Opener, stack: Stack) -> None:
    one, two = stack.web(), stack.web()
    stack.worker()
    await send_jobs(ws, one, 20)
    wait_until(lambda: scrape(two)["courier_jobs_total"][(("event", "succeeded"),)] == 20, 10)
    assert (
        scrape(one)["courier_job_latency_seconds_count"]
        == scrape(two)["courier_job_latency_seconds_count"]
    )
    sessions = scrape(one)["courier_web_sessions"]
    assert len(sessions) == 1, "the session gauge is the process's own, labelled by instance"
