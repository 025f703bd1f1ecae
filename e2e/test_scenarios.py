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


def test_three_consumers(page: Page, e2e_stack: Stack) -> None:
    roles = [e2e_stack.worker() for _ in range(3)] + [e2e_stack.subscriber() for _ in range(3)]
    page.goto("/")
    for role in roles:
        kind = "Workers" if role.name.startswith("worker") else "Subscribers"
        chip = page.get_by_role("list", name=kind).get_by_role("listitem")
        expect(chip.filter(has_text=f":{role.pid}")).to_contain_text("idle")
    page.get_by_role("button", name="Three consumers").click()
    story = page.get_by_role("list", name="Scenario")
    expect(story).to_contain_text("3 workers and 3 subscribers are running", timeout=15_000)
    expect(story).to_contain_text("27 replies", timeout=15_000)
    expect(page.get_by_test_id("queue-processed")).to_have_text("9")
    expect(page.get_by_test_id("queue-duplicates")).to_have_text("0")
    replies = page.get_by_role("list", name="Pub/sub messages").get_by_role("list", name="Replies")
    expect(replies).to_have_count(9)
    for reply_list in replies.all():
        expect(reply_list.get_by_role("listitem")).to_have_count(3)
    for role in roles:
        role.stop()
