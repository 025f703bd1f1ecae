"""The lab's guided scenarios, each one click, checked against what happened."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.processes import Stack


def test_nobody_listening_then_a_worker_dies(page: Page, e2e_stack: Stack) -> None:
    workers = [e2e_stack.worker(), e2e_stack.worker()]
    subscriber = e2e_stack.subscriber()
    page.goto("/")
    chips = page.get_by_role("list", name="Workers").get_by_role("listitem")
    expect(chips.filter(has_text="idle")).to_have_count(2)
    story = page.get_by_role("list", name="Scenario")

    page.get_by_role("button", name="Nobody listening").click()
    expect(story).to_contain_text("pub/sub lost all 5", timeout=15_000)
    expect(page.get_by_test_id("pubsub-lost")).to_have_text("5")
    expect(story).to_contain_text("The queue drained", timeout=20_000)
    expect(page.get_by_test_id("queue-processed")).to_have_text("5")
    expect(page.get_by_test_id("queue-duplicates")).to_have_text("0")

    page.get_by_role("button", name="A worker dies").click()
    expect(story).to_contain_text("Crashing", timeout=15_000)
    expect(story).to_contain_text("took the job over and finished it", timeout=30_000)
    [dead] = [w for w in workers if not w.is_running]  # one worker really died
    expect(chips.filter(has_text=f":{dead.pid}")).to_contain_text("gone")
    for role in (*workers, subscriber):
        role.stop()
