"""The job console: submit, watch progress, cancel, browse every job with filters and pages,
and tend dead letters one by one or in bulk, as a person would."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.processes import Stack


def submit(page: Page, task: str, args: str, text: str = "hello") -> None:
    form = page.get_by_role("form", name="Submit a job")
    form.get_by_label("Task").select_option(task)
    form.get_by_label("Text").fill(text)
    form.get_by_label("Arguments").fill(args)
    form.get_by_role("button", name="Submit").click()


def post_job(base_url: str, task: str, text: str) -> str:
    body = json.dumps({"task": task, "text": text}).encode()
    request = urllib.request.Request(
        base_url + "/api/jobs", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(json.load(response)["id"])


def rows(page: Page) -> Locator:
    return page.get_by_role("table", name="Jobs").get_by_role("row").filter(has=page.locator("td"))


def test_console_submit_progress_cancel_and_dead_letters(
    page: Page, e2e_stack: Stack, screenshots: Path
) -> None:
    worker = e2e_stack.worker()
    page.goto("/jobs")
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
    jobs = page.get_by_role("table", name="Jobs")

    submit(page, "sleep", '{"seconds": 1}', text="one second")
    row = jobs.get_by_role("row").filter(has_text="one second")
    expect(row).to_contain_text("yours")
    expect(row).to_contain_text("running")
    expect(row.get_by_role("progressbar")).to_have_attribute("value", "1.0", timeout=10_000)
    expect(row).to_contain_text("succeeded")
    expect(row).to_contain_text('"slept 1s"')

    submit(page, "sleep", '{"seconds": 30}', text="long one")
    long_row = jobs.get_by_role("row").filter(has_text="long one")
    expect(long_row).to_contain_text("running")
    long_row.get_by_role("button", name="Cancel").click()
    expect(long_row).to_contain_text("cancelled")

    submit(page, "uppercase", "", text="no arguments at all")
    expect(jobs.get_by_role("row").filter(has_text="no arguments at all")).to_contain_text(
        '"NO ARGUMENTS AT ALL"'
    )
    submit(page, "sleep", "{not json")
    expect(page.get_by_role("alert").filter(has_text="Arguments: not valid JSON")).to_be_visible()
    submit(page, "fib", '{"n": 99}')
    expect(page.get_by_role("alert").filter(has_text="bad args for task 'fib'")).to_be_visible()

    submit(page, "fail", "", text="doomed")
    doomed = jobs.get_by_role("row").filter(has_text="doomed")
    expect(doomed).to_contain_text("dead", timeout=10_000)
    expect(doomed).to_contain_text("this task always fails")
    page.screenshot(path=screenshots / "jobs.png", full_page=True)

    doomed.get_by_role("link", name="fail").click()
    attempts = page.get_by_role("list", name="Failed attempts").get_by_role("listitem")
    expect(attempts).to_have_count(3)

    page.goto("/jobs/dead")
    dead = page.get_by_role("table", name="Dead letters").get_by_role("row").filter(has_text="fail")
    expect(dead).to_have_count(1)
    dead.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("table", name="Dead letters")).to_contain_text("back in the queue")
    worker.stop()


def test_browse_hundreds_of_jobs_with_filters_pages_and_live_rows(
    page: Page, e2e_stack: Stack, base_url: str
) -> None:
    worker = e2e_stack.worker()
    made = [
        post_job(base_url, "fail" if i % 10 == 0 else "reverse", f"pile {i}") for i in range(300)
    ]
    page.goto("/jobs?q=pile")
    expect(rows(page)).to_have_count(50)
    expect(rows(page).first).to_contain_text("pile 299")

    seen: set[str] = set()
    while True:
        ids = rows(page).evaluate_all("rows => rows.map(r => r.id)")
        seen.update(ids)
        older = page.get_by_role("navigation", name="Pages of jobs").get_by_role(
            "link", name="Older jobs"
        )
        if older.count() == 0:
            break
        older.click()
    assert seen == {f"job-{job_id}" for job_id in made}, "every job once over the pages"

    search = page.get_by_role("search", name="Filter jobs")
    page.goto("/jobs")
    search.get_by_label("Status").select_option("dead")
    search.get_by_label("Search").fill("pile")
    search.get_by_role("button", name="Show").click()
    expect(rows(page)).to_have_count(30, timeout=20_000)
    for status in rows(page).locator(".status-label").all_inner_texts():
        assert status == "dead"
    expect(page.get_by_role("region", name="By task")).to_contain_text("reverse")

    search.get_by_label("Status").select_option("")
    search.get_by_label("Search").fill("fresh from rest")
    search.get_by_role("button", name="Show").click()
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
    expect(rows(page)).to_have_count(0)
    post_job(base_url, "uppercase", "fresh from rest")
    expect(rows(page).first).to_contain_text('"FRESH FROM REST"', timeout=10_000)
    by_task = page.get_by_role("region", name="By task")
    expect(by_task.get_by_role("row").filter(has_text="uppercase")).to_be_visible()

    page.goto("/jobs/dead")
    table = page.get_by_role("table", name="Dead letters")
    ticked = table.get_by_role("row").filter(has_text="this task always fails")
    ticked.nth(0).get_by_role("checkbox").check()
    ticked.nth(1).get_by_role("checkbox").check()
    page.get_by_role("button", name="Discard ticked").click()
    expect(page.get_by_role("status").filter(has_text="2 of 2 discarded")).to_be_visible()
    page.get_by_role("button", name="Retry all").click()
    expect(page.get_by_role("status").filter(has_text="put back in the queue")).to_be_visible()
    worker.stop()
