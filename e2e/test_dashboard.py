"""The dashboard updates by itself as work flows, and /metrics speaks Prometheus."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.processes import Stack


def test_dashboard_shows_redis_consumers_and_live_charts(
    page: Page, e2e_stack: Stack, base_url: str, screenshots: Path
) -> None:
    worker = e2e_stack.worker()
    page.goto("/dashboard")
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
    expect(page.get_by_test_id("redis-version")).to_have_text("7.0.15")
    expect(page.get_by_test_id("redis-topology")).to_have_text("One server")
    consumers = page.get_by_role("table", name="Consumers")
    expect(consumers.get_by_role("row").filter(has_text=f":{worker.pid}")).to_contain_text("idle")
    throughput_chart = page.get_by_role("figure", name="Throughput")
    expect(
        throughput_chart.get_by_role("img", name="Throughput over the last 5 minutes")
    ).to_be_visible()
    for label in ("-5 min", "-1 min", "now"):
        expect(throughput_chart.get_by_text(label, exact=True)).to_be_visible()
    expect(throughput_chart.locator(".scale")).to_have_text("1 job/s")

    for i in range(30):
        body = f'{{"task": "sleep", "args": {{"seconds": 0.2}}, "text": "{i}"}}'.encode()
        request = urllib.request.Request(
            base_url + "/api/jobs", data=body, headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=5).close()
    row = consumers.get_by_role("row").filter(has_text=f":{worker.pid}")
    expect(row.get_by_role("cell").nth(2)).to_have_text("30", timeout=10_000)
    throughput = page.get_by_test_id("latest-throughput-finished")
    expect(throughput).not_to_have_text("finished: 0 jobs/s", timeout=15_000)
    expect(throughput).not_to_have_text("finished: none yet")
    expect(throughput).to_have_text(re.compile(r"^finished: \d[\d,]*(\.\d+)? jobs/s$"))
    expect(throughput_chart.locator(".scale")).not_to_have_text("1 job/s")
    expect(page.get_by_text(re.compile(r"\de[+-]\d"))).to_have_count(0)
    page.screenshot(path=screenshots / "dashboard.png", full_page=True)

    with urllib.request.urlopen(base_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'courier_jobs_total{event="enqueued"}' in text
    assert 'courier_consumers{kind="worker",state=' in text
    assert 'courier_job_latency_seconds_bucket{le="+Inf"}' in text
    worker.stop()
