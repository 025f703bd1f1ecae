"""The home page shows, live, whether Redis, the workers and the subscribers are up."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.processes import Stack


def test_home_shows_live_status_and_a_stopped_worker_goes_gone(
    page: Page, e2e_stack: Stack, screenshots: Path
) -> None:
    subscriber = e2e_stack.subscriber()
    worker = e2e_stack.worker()
    page.goto("/")
    expect(page.get_by_role("heading", name="Queue vs pub/sub, live")).to_be_visible()
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()

    status = page.get_by_role("region", name="System status")
    expect(status.get_by_test_id("redis-state")).to_contain_text("up")
    workers = status.get_by_role("list", name="Workers")
    subscribers = status.get_by_role("list", name="Subscribers")
    expect(workers.get_by_role("listitem")).to_have_count(1)
    expect(workers.get_by_role("listitem")).to_contain_text("idle")
    expect(subscribers.get_by_role("listitem")).to_contain_text("idle")
    expect(status.get_by_test_id("worker-count")).to_have_text("1 up")
    page.screenshot(path=screenshots / "home.png", full_page=True)

    worker.stop()
    expect(workers.get_by_role("listitem")).to_contain_text("gone")
    expect(status.get_by_test_id("worker-count")).to_have_text("0 up")
    subscriber.stop()
    expect(status.get_by_test_id("subscriber-count")).to_have_text("0 up")
