"""The job console's options: priority and timeout on the row and the job's page, a delayed job
counting down in the scheduled view until it runs, the cron schedules with their next run, a
duplicate idempotency key, and the queue's own error for a bad value."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

from playwright.sync_api import Locator, Page, expect

from tests.processes import Stack


def submit(page: Page, text: str, **options: str) -> None:
    """Submits `uppercase` with `text`; `options` maps a field's label to its value."""
    form = page.get_by_role("form", name="Submit a job")
    form.get_by_label("Task").select_option("uppercase")
    form.get_by_label("Text").fill(text)
    for label in ("Delay", "Timeout", "Idempotency key"):
        form.get_by_label(label).fill(options.get(label, ""))
    form.get_by_label("Priority").select_option(options.get("Priority", "5"))
    form.get_by_role("button", name="Submit").click()


def job_row(page: Page, text: str) -> Locator:
    return page.get_by_role("table", name="Jobs").get_by_role("row").filter(has_text=text)


def seconds_left(countdown: Locator) -> int:
    words = countdown.inner_text()
    found = re.fullmatch(r"in (\d+) s", words)
    assert found, f"a countdown in seconds, not {words!r}"
    return int(found[1])


def api(base_url: str, method: str, path: str, body: object = None) -> None:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(base_url + path, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=5):
        pass


def test_priority_timeout_duplicate_key_and_bad_values(page: Page, e2e_stack: Stack) -> None:
    worker = e2e_stack.worker()
    page.goto("/jobs")
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()

    submit(page, "urgent and bounded", Priority="8", Timeout="5")
    row = job_row(page, "urgent and bounded")
    expect(row).to_contain_text("succeeded", timeout=10_000)
    expect(row.locator("td.priority")).to_have_text("8")
    expect(row).to_contain_text("time limit 5 s")

    key = f"order-{uuid.uuid4().hex[:8]}"
    submit(page, "first with key", **{"Idempotency key": key})
    expect(job_row(page, "first with key")).to_contain_text("succeeded", timeout=10_000)
    first = job_row(page, "first with key").get_by_role("link", name="uppercase")
    first_href = str(first.get_attribute("href"))
    submit(page, "second with key", **{"Idempotency key": key})
    notice = page.get_by_role("alert").filter(has_text="nothing new runs")
    expect(notice).to_contain_text(f"Duplicate of {first_href.rsplit('/', 1)[1][:12]}")
    expect(notice.get_by_role("link")).to_have_attribute("href", first_href)
    expect(job_row(page, "second with key")).to_have_count(0)

    submit(page, "never sent", Timeout="0")
    expect(page.get_by_role("alert")).to_contain_text("timeout: must be seconds, more than 0")
    submit(page, "never sent", Delay="soon")
    expect(page.get_by_role("alert")).to_contain_text("delay: must be seconds")
    expect(job_row(page, "never sent")).to_have_count(0)

    row.get_by_role("link", name="uppercase").click()
    details = page.locator("dl.details")
    expect(details.locator("div").filter(has_text="Priority")).to_contain_text("8")
    expect(details.locator("div").filter(has_text="Timeout")).to_contain_text("5 s per attempt")
    worker.stop()


def test_delayed_job_counts_down_in_the_scheduled_view_then_runs(
    page: Page, e2e_stack: Stack, base_url: str
) -> None:
    worker = e2e_stack.worker()
    name = f"nightly-{uuid.uuid4().hex[:6]}"
    api(base_url, "POST", "/api/schedules", {"name": name, "cron": "0 3 * * *", "task": "reverse"})
    try:
        page.goto("/jobs")
        expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
        submit(page, "a little later", Delay="4")
        expect(page.get_by_role("alert")).to_contain_text("it starts at")
        row = job_row(page, "a little later")
        expect(row).to_contain_text("queued")
        expect(row).to_contain_text("starts at")
        href = str(row.get_by_role("link", name="uppercase").get_attribute("href"))

        page.get_by_role("link", name="Scheduled").click()
        expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
        delayed = page.get_by_role("table", name="Delayed jobs").get_by_role("row")
        waiting = delayed.filter(has_text="a little later")
        countdown = waiting.locator("[data-run-at]")
        before = seconds_left(countdown)
        expect(countdown).not_to_have_text(countdown.inner_text(), timeout=2_500)
        assert seconds_left(countdown) < before, "the countdown goes down"

        schedule = page.get_by_role("table", name="Schedules").get_by_role("row", name=name)
        expect(schedule).to_contain_text("0 3 * * *")
        expect(schedule.locator("[data-run-at]")).to_have_text(re.compile(r"^in \d+ "))

        body = {"task": "uppercase", "text": "sent over the api", "delay": 2}
        api(base_url, "POST", "/api/jobs", body)
        from_api = delayed.filter(has_text="sent over the api")
        expect(from_api).to_have_count(1)  # the live list takes in a job sent from anywhere
        expect(from_api).to_have_count(0, timeout=10_000)
        expect(waiting).to_have_count(0, timeout=10_000)  # it started: gone from the list
        page.goto(href)
        status = page.locator("dl.details div").filter(has_text="Status")
        expect(status).to_contain_text("succeeded", timeout=10_000)
    finally:
        api(base_url, "DELETE", f"/api/schedules/{name}")
        worker.stop()
