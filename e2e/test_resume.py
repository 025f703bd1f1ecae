"""A page whose socket drops picks up every event it missed, even across a web restart."""

from __future__ import annotations

import redis as sync_redis
from playwright.sync_api import Page, expect

from backend.core.control import RECHECK
from backend.core.keys import Keys
from backend.procs.redis_server import RedisServer
from tests.processes import Stack, wait_until


def test_the_lab_catches_up_after_the_web_process_restarts(
    page: Page, e2e_stack: Stack, e2e_redis: RedisServer, base_url: str
) -> None:
    worker = e2e_stack.worker()
    page.goto("/")
    chip = page.get_by_role("list", name="Workers").get_by_role("listitem")
    expect(chip.filter(has_text=f":{worker.pid}")).to_contain_text("idle")
    page.get_by_role("button", name="Pause all").click()
    expect(chip.filter(has_text=f":{worker.pid}")).to_contain_text("paused")
    page.get_by_role("textbox", name="Message").fill("across a restart")
    page.get_by_role("button", name="Send to both").click()
    row = page.get_by_role("list", name="Queue messages").get_by_role("listitem").first
    expect(row).to_contain_text("waiting in the queue")

    web = next(r for r in e2e_stack.roles if r.name.startswith("web-") and r.is_running)
    web.kill()
    expect(page.get_by_text("Connection lost; reconnecting")).to_be_visible()

    # While no web process runs, the worker is resumed and finishes the job: its events are
    # logged for the page's session, and nobody is there to receive them.
    keys = Keys("courier:")
    client = sync_redis.Redis(host=e2e_redis.host, port=e2e_redis.port, decode_responses=True)
    done = int(client.hget(keys.stats, "succeeded") or 0)
    client.delete(keys.paused)
    client.publish(keys.control, RECHECK)
    wait_until(lambda: int(client.hget(keys.stats, "succeeded") or 0) > done, 10, "the job")
    client.close()

    e2e_stack.web(port=int(base_url.rsplit(":", 1)[1]))
    expect(row).to_contain_text("ACROSS A RESTART", timeout=20_000)
    expect(page.get_by_role("status").first.get_by_text("Live", exact=True)).to_be_visible()
    worker.stop()
