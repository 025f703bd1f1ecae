"""The fan-out workload of `courier bench peers`: one room over two web processes, one sender,
every member receiving, driven by `courier bench fanout`'s own client and checks, on Courier
and on FastAPI + encode/broadcaster (peer_apps/broadcaster_chat.py), each with its own
redis-server. The members are split over the two web processes and two client processes the
same way for both, so the figures differ only by the server side."""

from __future__ import annotations

import os
import urllib.request
from functools import partial
from pathlib import Path

from backend.bench.client import BenchError, run_phase, say
from backend.bench.fanout import Half, Sent, fanout_phase
from backend.bench.figures import Problems
from backend.bench.helper import Helper
from backend.bench.options import FanoutBench, PeersBench
from backend.bench.peers_envs import environments, python
from backend.bench.peers_queue import APPS
from backend.bench.peers_report import RoomRow
from backend.bench.stack import Stack, run_stack
from backend.procs.child import Child, terminate
from backend.procs.redis_server import RedisServer, RedisServerError, free_port

START_SECONDS = 30.0
PEER_SETTINGS = (
    "2 uvicorn processes (websockets-sansio, no permessage-deflate, uvloop, as Courier's),"
    " one PUBLISH per message, in-memory fan-out per process"
)


def measure_courier_room(options: PeersBench) -> RoomRow:
    bench = FanoutBench(options.members, options.messages)
    say(f"courier room: {bench.members} members, {bench.messages} messages")
    row = RoomRow("Courier", "2 web processes, chat rate limits lifted (`courier bench fanout`)")
    return run_stack(bench.plan(), partial(_courier_room, options, row))


def _courier_room(options: PeersBench, row: RoomRow, stack: Stack, deadline: float) -> RoomRow:
    return room(row, stack.ws_urls, stack.pids(), options, deadline)


def room(
    row: RoomRow, urls: list[str], pids: dict[str, int], options: PeersBench, deadline: float
) -> RoomRow:
    """The members over `urls` as `courier bench fanout` places them; fills `row`."""
    problems, sent = Problems(), Sent.empty(options.messages)
    split = (options.members + 1) // 2
    mine = Half.of(urls, range(split))
    theirs = Half.of(urls, range(split, options.members))
    helper = Helper(theirs.urls, theirs.names, set(mine.names) | set(theirs.names))
    helper.start()
    try:
        phase = fanout_phase(mine, helper, sent, {**pids, "bench helper": helper.pid}, problems)
        _, row.figures = run_phase(phase, deadline, f"{row.name} fan-out")
    except BenchError as exc:
        row.error = f"{exc}; {sent.count} of {options.messages} messages sent"
    finally:
        helper.stop()
    row.problems, row.problem_count = problems.first, problems.count
    return row


def measure_broadcaster(options: PeersBench, directory: Path, deadline: float) -> RoomRow:
    """Its redis-server and two uvicorn processes, all stopped whatever happens."""
    say(f"broadcaster room: {options.members} members, {options.messages} messages")
    env = environments()["broadcaster"]
    redis = RedisServer(directory / "broadcaster" / "redis")
    try:
        url = redis.start()
    except RedisServerError as exc:
        raise BenchError(f"broadcaster: could not start redis-server: {exc}") from None
    children = {k: v for k, v in os.environ.items() if not k.startswith(("COURIER_", "PYTHON"))}
    children.update(PEER_REDIS_URL=url, PEER_ROOM_SIZE=str(options.members))
    children.update(PYTHONPATH=str(APPS), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    ports = _two_ports()
    webs = [
        Child(f"web-{index}", _uvicorn(str(python(env)), port), directory / f"peer-web-{index}.log",
              cwd=APPS)
        for index, port in enumerate(ports, start=1)
    ]  # fmt: skip
    try:
        for web in webs:
            web.start(children)
        for web, port in zip(webs, ports, strict=True):
            web.wait_ready(partial(_answers, port), START_SECONDS, "answering HTTP")
        pids = {web.name: web.pid for web in webs}
        if redis.process is not None:
            pids["redis-server"] = redis.process.pid
        row = RoomRow("broadcaster", PEER_SETTINGS)
        urls = [f"ws://127.0.0.1:{port}/ws" for port in ports]
        return room(row, urls, pids, options, deadline)
    finally:
        terminate(webs, 5.0)
        redis.stop(timeout=5.0)


def _uvicorn(python: str, port: int) -> list[str]:
    return [
        python, "-m", "uvicorn", "broadcaster_chat:app", "--host", "127.0.0.1",
        "--port", str(port), "--ws", "websockets-sansio", "--ws-per-message-deflate", "false",
        "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
    ]  # fmt: skip


def _two_ports() -> list[int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return [first, second]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
