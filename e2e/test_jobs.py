"""The job console: submit, watch progress, cancel, and retry a dead letter, as a person would."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.processes import Stack


def submit(page: Page, task: str, args: str, text: str = "hello") -> None:
    page.get_by_label("Task").select_option(task)
    page.get_by_label("Text").fill(text)
    page.get_by_label("Arguments (JSON)").fill(args)
    page.get_by_role("button", name="Submit").click()


def test_console_submit_progress_cancel_and_dead_letters(
    page: Page, e2e_stack: Stack, screenshots: Path
) -> None:
    worker = e2e_stack.worker()
    page.goto("/jobs")
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
    jobs = page.get_by_role("table", name="Your jobs")

    submit(page, "sleep", '{"seconds": 1}')
    row = jobs.get_by_role("row").filter(has_text="sleep").first
    expect(row).to_contain_text("running")
    expect(row.get_by_role("progressbar")).to_have_attribute("value", "1.0", timeout=10_000)
    expect(row).to_contain_text("succeeded")
    expect(row).to_contain_text('"slept 1s"')

    submit(page, "sleep", '{"seconds": 30}', text="long one")
    long_row = jobs.get_by_role("row").filter(has_text="long one")
    expect(long_row).to_contain_text("running")
    long_row.get_by_role("button", name="Cancel").click()
    expect(long_row).to_contain_text("cancelled")

    submit(page, "sleep", "{not json")
    expect(page.get_by_role("alert").filter(has_text="args is not valid JSON")).to_be_visible()
    submit(page, "fib", '{"n": 99}')
    expect(page.get_by_role("alert").filter(has_text="bad args for task 'fib'")).to_be_visible()

    submit(page, "fail", "{}", text="doomed")
    doomed = jobs.get_by_role("row").filter(has_text="doomed")
    expect(doomed).to_contain_text("dead", timeout=10_000)
    expect(doomed).to_contain_text("this task always fails")
    page.screenshot(path=screenshots / "jobs.png", full_page=True)

    doomed.get_by_role("link", name="fail").click()
    expect(page.get_by_role("list", name="Failed attempts").get_by_role("listitem")).to_have_count(
        3
    )

    page.goto("/jobs/dead")
    dead = page.get_by_role("table", name="Dead letters").get_by_role("row").filter(has_text="fail")
    expect(dead).to_have_count(1)
    dead.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("table", name="Dead letters")).to_contain_text("back in the queue")
    worker.stop()
