"""The lab: one message to both lanes, consumers live, pause and resume, as a person uses it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.processes import Stack


def test_status_is_live_and_a_stopped_worker_goes_gone(page: Page, e2e_stack: Stack) -> None:
    worker = e2e_stack.worker()
    page.goto("/")
    expect(page.get_by_role("heading", name="Queue vs pub/sub, live")).to_be_visible()
    expect(page.get_by_role("status").get_by_text("Live", exact=True)).to_be_visible()
    status = page.get_by_role("region", name="System status")
    expect(status.get_by_test_id("redis-state")).to_contain_text("up")
    expect(status.get_by_test_id("redis-mode")).to_have_text("one server")
    chip = (
        page.get_by_role("list", name="Workers")
        .get_by_role("listitem")
        .filter(has_text=f":{worker.pid}")
    )
    expect(chip).to_contain_text("idle")
    expect(status.get_by_test_id("worker-count")).to_have_text("1 up")
    worker.stop()
    expect(chip).to_contain_text("gone")
    expect(status.get_by_test_id("worker-count")).to_have_text("0 up")


def test_one_message_both_lanes_then_nobody_listening(
    page: Page, e2e_stack: Stack, screenshots: Path
) -> None:
    worker = e2e_stack.worker()
    subscriber = e2e_stack.subscriber()
    page.goto("/")
    workers = page.get_by_role("list", name="Workers")
    subscribers = page.get_by_role("list", name="Subscribers")
    expect(workers.get_by_role("listitem").filter(has_text=f":{worker.pid}")).to_contain_text(
        "idle"
    )
    expect(
        subscribers.get_by_role("listitem").filter(has_text=f":{subscriber.pid}")
    ).to_contain_text("idle")

    page.get_by_role("textbox", name="Message").fill("hello lab")
    page.get_by_role("button", name="Send to both").click()
    queue_rows = page.get_by_role("list", name="Queue messages").get_by_role("listitem")
    pubsub_rows = page.get_by_role("list", name="Pub/sub messages").locator("> li")
    expect(queue_rows.first).to_contain_text("HELLO LAB")
    expect(pubsub_rows.first).to_contain_text("delivered to 1 subscriber")
    expect(pubsub_rows.first.get_by_role("list", name="Replies")).to_contain_text("HELLO LAB")
    expect(page.get_by_test_id("queue-processed")).to_have_text("1")

    page.get_by_role("button", name="Pause all").click()
    expect(workers.get_by_role("listitem").filter(has_text=f":{worker.pid}")).to_contain_text(
        "paused"
    )
    expect(
        subscribers.get_by_role("listitem").filter(has_text=f":{subscriber.pid}")
    ).to_contain_text("paused")
    page.get_by_role("textbox", name="Message").fill("anyone?")
    page.get_by_role("button", name="Send 10").click()
    expect(page.get_by_test_id("queue-depth")).to_have_text("10")
    expect(page.get_by_test_id("lane-depth")).to_have_text("10")
    expect(queue_rows.filter(has_text="waiting in the queue")).to_have_count(10)
    expect(pubsub_rows.filter(has_text="lost: nobody was subscribed")).to_have_count(10)
    expect(page.get_by_test_id("pubsub-lost")).to_have_text("10")
    page.screenshot(path=screenshots / "lab.png", full_page=True)

    page.get_by_role("button", name="Resume all").click()
    expect(queue_rows.filter(has_text="ANYONE?")).to_have_count(10)
    expect(page.get_by_test_id("queue-depth")).to_have_text("0")
    expect(page.get_by_test_id("queue-processed")).to_have_text("11")
    expect(page.get_by_test_id("queue-lost")).to_have_text("0")
    worker.stop()
    subscriber.stop()
