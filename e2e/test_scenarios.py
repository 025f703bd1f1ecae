"""The lab's guided scenarios, each one click, checked against what happened."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.processes import Stack

PER_CONSUMER = r"(\d+) by ((?:worker|subscriber):[^\s,]+:\d+)"


@pytest.fixture(autouse=True)
def only_this_tests_consumers(e2e_stack: Stack) -> Iterator[None]:
    """Scenarios count consumers: none left running by an earlier (failed) test, none after."""
    stop_consumers(e2e_stack)
    yield
    stop_consumers(e2e_stack)


def stop_consumers(stack: Stack) -> None:
    for role in stack.roles:
        if role.is_running and not role.name.startswith("web-"):
            role.stop()


def narrated(story: Locator, kind: str, sentence_start: str) -> dict[str, int]:
    """The per-consumer counts the narration states, from its sentence starting with
    `sentence_start`: {consumer id: count}."""
    [sentence] = [
        t for t in story.get_by_role("listitem").all_inner_texts() if t.startswith(sentence_start)
    ]
    return {c: int(n) for n, c in re.findall(PER_CONSUMER, sentence) if c.startswith(kind)}


def by(page: Page, rows: Locator, consumer: str) -> Locator:
    """The rows (or replies) whose consumer is exactly `consumer`."""
    name = page.locator(".consumer", has_text=re.compile(f"^{re.escape(consumer)}$"))
    return rows.filter(has=name)


def check_queue_lane(page: Page, counts: dict[str, int]) -> None:
    rows = page.get_by_role("list", name="Queue messages").get_by_role("listitem")
    for consumer, count in counts.items():
        expect(by(page, rows, consumer)).to_have_count(count)
    expect(rows.filter(has=page.locator(".consumer"))).to_have_count(sum(counts.values()))


def test_nobody_listening_then_a_worker_dies(page: Page, e2e_stack: Stack) -> None:
    workers = [e2e_stack.worker(), e2e_stack.worker()]
    subscriber = e2e_stack.subscriber()
    page.goto("/")
    page.get_by_role("button", name="Resume all").click()  # whatever an earlier test left paused
    chips = page.get_by_role("list", name="Workers").get_by_role("listitem")
    expect(chips.filter(has_text="idle")).to_have_count(2)
    story = page.get_by_role("list", name="Scenario")

    page.get_by_role("button", name="Nobody listening").click()
    expect(story).to_contain_text("2 workers and 1 subscriber report paused", timeout=15_000)
    expect(story).to_contain_text("all 5 jobs are waiting in the queue", timeout=15_000)
    expect(story).to_contain_text("pub/sub lost all 5")
    expect(page.get_by_test_id("pubsub-lost")).to_have_text("5")
    expect(story).to_contain_text("The queue drained: 5 of the 5 jobs were done", timeout=20_000)
    expect(story).to_contain_text("0 replies")
    counts = narrated(story, "worker", "The queue drained")
    assert {c.rsplit(":", 1)[1] for c in counts} == {str(w.pid) for w in workers}
    assert sum(counts.values()) == 5
    check_queue_lane(page, counts)
    if max(counts.values()) - min(counts.values()) > 1:  # uneven: the narration says why
        expect(story).to_contain_text("prefetch, not unfairness")
    expect(page.get_by_test_id("queue-processed")).to_have_text("5")
    expect(page.get_by_test_id("queue-duplicates")).to_have_text("0")

    page.get_by_role("button", name="A worker dies").click()
    expect(story).to_contain_text("Crashing", timeout=15_000)
    expect(story).to_contain_text("stopped beating", timeout=15_000)
    expect(story).to_contain_text("took the job over and finished it", timeout=30_000)
    [dead] = [w for w in workers if not w.is_running]  # one worker really died
    [alive] = [w for w in workers if w.is_running]
    texts = story.get_by_role("listitem").all_inner_texts()
    assert any(t.startswith("worker:") and f":{dead.pid} took" in t for t in texts), texts
    assert any(f":{alive.pid} took the job over" in t for t in texts), texts
    expect(chips.filter(has_text=f":{dead.pid}")).to_contain_text("gone")
    for role in (*workers, subscriber):
        role.stop()


def test_three_consumers(page: Page, e2e_stack: Stack) -> None:
    roles = [e2e_stack.worker() for _ in range(3)] + [e2e_stack.subscriber() for _ in range(3)]
    page.goto("/")
    page.get_by_role("button", name="Resume all").click()  # whatever an earlier test left paused
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

    jobs = narrated(story, "worker", "Queue:")
    assert {c.rsplit(":", 1)[1] for c in jobs} == {str(r.pid) for r in roles[:3]}
    assert sum(jobs.values()) == 9
    check_queue_lane(page, jobs)
    if max(jobs.values()) - min(jobs.values()) > 1:  # uneven: the narration says why
        expect(story).to_contain_text("prefetch, not unfairness")

    replies = page.get_by_role("list", name="Pub/sub messages").get_by_role("list", name="Replies")
    expect(replies).to_have_count(9)
    for reply_list in replies.all():
        expect(reply_list.get_by_role("listitem")).to_have_count(3)
    heard = narrated(story, "subscriber", "Pub/sub:")
    assert {c.rsplit(":", 1)[1] for c in heard} == {str(r.pid) for r in roles[3:]}
    for consumer, count in heard.items():
        expect(by(page, replies.get_by_role("listitem"), consumer)).to_have_count(count)
    assert sum(heard.values()) == 27
    for role in roles:
        role.stop()
