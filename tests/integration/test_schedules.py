"""Cron schedules with real processes: each tick is enqueued once however many web processes
and workers run the schedule loop; schedules are listed with their next run, and added or
removed over the API."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from redis.asyncio import Redis

from backend.core.keys import Keys
from tests.processes import Stack, http_json, wait_until

EVERY_2S = "* * * * * */2"  # six fields: seconds last


async def test_one_enqueue_per_tick_with_two_workers_and_two_web_processes(
    stack: Stack, redis: Redis, keys: Keys
) -> None:
    schedule = {"name": "tick", "cron": EVERY_2S, "task": "uppercase", "text": "tick"}
    stack.settings.update(schedules=json.dumps([schedule]))
    base = stack.web()
    stack.web()
    stack.worker()
    stack.worker()
    await asyncio.sleep(7)
    claimed = [k async for k in redis.scan_iter(match=keys.queue_base + "key:cron:tick:*")]
    ticks = sorted(int(str(k).rsplit(":", 1)[1]) for k in claimed)
    assert len(ticks) >= 3, ticks
    assert all(b - a == 2 for a, b in itertools.pairwise(ticks)), ticks
    status, report = http_json(base + "/api/queue")
    assert report["enqueued"] == len(ticks), "one job per tick, not one per process"
    status, listed = http_json(base + "/api/schedules")
    assert status == 200
    [state] = listed
    assert state["name"] == "tick" and state["source"] == "settings"
    assert time.time() - 0.5 < state["next_run"] <= time.time() + 2.5
    assert state["last_job"] is not None


async def test_schedules_added_and_removed_over_the_api(stack: Stack) -> None:
    base = stack.web()
    stack.worker()
    spec = {"name": "api-tick", "cron": EVERY_2S, "task": "reverse", "text": "abc"}
    status, created = http_json(base + "/api/schedules", "POST", spec)
    assert status == 201 and created["next_run"] > time.time() - 0.5, created
    status, body = http_json(base + "/api/schedules", "POST", spec)
    assert (status, body["error"]) == (409, "schedule_exists")
    wait_until(
        lambda: http_json(base + "/api/schedules")[1][0]["last_job"] is not None, 10, "a tick"
    )
    status, _ = http_json(base + "/api/schedules/api-tick", "DELETE")
    assert status == 204
    assert http_json(base + "/api/schedules")[1] == []
    status, _ = http_json(base + "/api/schedules/api-tick", "DELETE")
    assert status == 404


async def test_a_bad_schedule_gets_a_specific_code(stack: Stack) -> None:
    base = stack.web()
    bad_cron = {"name": "bad", "cron": "61 * * * *", "task": "uppercase"}
    status, body = http_json(base + "/api/schedules", "POST", bad_cron)
    assert (status, body["error"]) == (422, "invalid_cron"), body
    unknown = {"name": "bad", "cron": "* * * * *", "task": "nope"}
    status, body = http_json(base + "/api/schedules", "POST", unknown)
    assert (status, body["error"]) == (422, "unknown_task"), body
