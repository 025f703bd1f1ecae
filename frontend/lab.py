"""The live lab: one message sent to the queue and to pub/sub at once, shown side by side.

The lab socket is an ordinary ClientSession underneath: its transport turns the page's form into
one `send` per lane, each session event into the fragment that shows it, and keeps the counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket

from backend.sessions.protocol import ProtocolError
from backend.sessions.session import Disconnected, Transport
from backend.web.admin import is_admin
from backend.web.deps import AppState
from frontend.resume import serve_page_session
from frontend.scenarios import Scenarios, Tally, Which
from frontend.templating import render_fragment

router = APIRouter(include_in_schema=False)

BURST = 10
MAX_TEXT = 200
MAX_BACKLOG = 200  # messages waiting to be sent for one page
MAX_TRACKED = 2000  # messages one page remembers (refs and ids)


@dataclass
class Lane:
    """What one lane shows: counters over this visitor's messages."""

    sent: int = 0
    processed: int = 0
    lost: int = 0
    duplicates: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=500))

    @property
    def p50(self) -> float | None:
        return statistics.median(self.latencies) if self.latencies else None


@dataclass
class Sent:
    lane: str
    text: str
    at: float | None  # None: sent before a reconnect, by an earlier connection
    consumer: str = ""
    receivers: int | None = None  # pub/sub, once published: how many subscribers got it
    by: Counter[str] = field(default_factory=Counter)  # final results, per consumer
    started: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class LabTransport:
    """Between the lab page (htmx) and the session (JSON protocol)."""

    def __init__(
        self,
        inner: Transport,
        scenarios: Scenarios | None = None,
        is_admin: Callable[[str], bool] = lambda token: True,
    ) -> None:
        self.inner = inner
        self.scenarios = scenarios
        self.is_admin = is_admin
        self.pending: asyncio.Queue[str | None] = asyncio.Queue()
        self.sent: dict[str, Sent] = {}  # by ref, then also by job/message id
        self.lanes = {"queue": Lane(), "pubsub": Lane()}
        self.lock = asyncio.Lock()
        self.reader: asyncio.Task[None] | None = None
        self.scenario: asyncio.Task[None] | None = None

    async def receive_text(self) -> str:
        """Messages come from the visitor's forms and from a running scenario alike."""
        if self.reader is None:
            self.reader = asyncio.create_task(self._read_forms())
        message = await self.pending.get()
        if message is None:
            raise Disconnected
        return message

    async def _read_forms(self) -> None:
        try:
            while True:
                try:
                    form = json.loads(await self.inner.receive_text())
                except (ValueError, ProtocolError):
                    continue  # not a form this page sends: ignore it, keep serving
                if not isinstance(form, dict) or self.pending.qsize() > MAX_BACKLOG:
                    continue  # backlog full: a visitor cannot queue without bound
                if form.get("scenario"):
                    await self._start_scenario(form)
                else:
                    count = BURST if form.get("burst") else 1
                    self.send_both(str(form.get("text") or "hello")[:MAX_TEXT], count)
        except Disconnected:
            pass
        finally:
            self.pending.put_nowait(None)  # ends the session's reader too
            if self.scenario is not None:
                self.scenario.cancel()

    def send_both(self, text: str, count: int, prefix: str = "") -> None:
        """The same text to both lanes, `count` times; each ref starts with `prefix`."""
        for i in range(count):
            body = f"{text} #{i + 1}" if count > 1 else text
            for lane in ("queue", "pubsub"):
                ref = prefix + secrets.token_hex(4)
                self._send(ref, lane, body, {"type": "send", "mode": lane})

    def send_job(self, ref: str, task: str, args: dict[str, object]) -> None:
        text = f"{task} {json.dumps(args)}"
        self._send(ref, "queue", text, {"type": "send", "task": task, "args": args})

    def _send(self, ref: str, lane: str, text: str, message: dict[str, Any]) -> None:
        while len(self.sent) > MAX_TRACKED:  # oldest first: long-finished messages
            del self.sent[next(iter(self.sent))]
        self.sent[ref] = Sent(lane, text, time.monotonic())
        self.lanes[lane].sent += 1
        self.pending.put_nowait(json.dumps({**message, "text": text, "ref": ref}))

    async def _start_scenario(self, form: dict[str, Any]) -> None:
        if not self.is_admin(str(form.get("token", ""))):
            await self.say("Scenarios pause and crash consumers: they need the admin token.")
            return
        run = self.scenarios.get(str(form["scenario"])) if self.scenarios else None
        if run is None or (self.scenario is not None and not self.scenario.done()):
            await self.say("A scenario is already running." if run else "Unknown scenario.")
            return
        await self._send_html(render_fragment("fragments/lab_story.html", start=True, text=""))
        self.scenario = asyncio.create_task(run(self))

    async def say(self, text: str) -> None:
        await self._send_html(render_fragment("fragments/lab_story.html", start=False, text=text))

    async def wait(self, ref: str, which: Which, within: float) -> str | None:
        sent = self.sent.get(ref)
        if sent is None:
            return None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(getattr(sent, which).wait(), within)
            return sent.consumer
        return None

    def tally(self, lane: str, prefix: str) -> Tally:
        """What this page saw of the `lane` messages whose refs start with `prefix`."""
        tally = Tally()
        for sent in [s for r, s in self.sent.items() if r.startswith(prefix) and s.lane == lane]:
            tally.waiting += not (sent.started.is_set() or sent.finished.is_set())
            tally.done += sent.by.total() > 0
            tally.published += sent.receivers is not None
            tally.unheard += sent.receivers == 0
            tally.delivered += sent.receivers or 0
            tally.by.update(sent.by)
        return tally

    async def send_text(self, data: str) -> None:
        html = self.render(json.loads(data))
        if html:
            await self._send_html(html)

    async def _send_html(self, html: str) -> None:
        async with self.lock:  # the session's writer and a scenario's narration share the socket
            await self.inner.send_text(html)

    def render(self, event: dict[str, Any]) -> str:
        kind = event.get("type")
        if kind == "accepted":
            return self._accepted(event)
        sent = self.sent.get(str(event.get("id")))
        if sent is None and kind in ("started", "result", "failed"):
            sent = self._sent_before_reconnecting(event)
        if sent is None:
            return ""
        if kind == "started":
            sent.consumer = str(event.get("consumer"))
            sent.started.set()
            return render_fragment("fragments/lab_job.html", job=event, sent=sent, state="taken")
        if kind in ("result", "failed"):
            return self._finished(event, sent)
        return ""

    def _sent_before_reconnecting(self, event: dict[str, Any]) -> Sent:
        """An event replayed after a reconnect, for a message this connection never saw sent:
        its row is already on the page, only its state changes; its latency is unknown."""
        sent = Sent(str(event.get("mode", "queue")), "", None)
        self.sent[str(event["id"])] = sent
        return sent

    def _accepted(self, event: dict[str, Any]) -> str:
        sent = self.sent.get(str(event.get("ref")))
        if sent is None:
            return ""
        self.sent[str(event["id"])] = sent
        if sent.lane == "queue":
            html = render_fragment("fragments/lab_job.html", job=event, sent=sent, state="waiting")
            return html + self._counters()
        sent.receivers = int(event.get("receivers") or 0)
        self.lanes["pubsub"].lost += sent.receivers == 0
        html = render_fragment("fragments/lab_broadcast.html", message=event, sent=sent)
        return html + self._counters()

    def _finished(self, event: dict[str, Any], sent: Sent) -> str:
        lane = self.lanes[sent.lane]
        latency = (time.monotonic() - sent.at) * 1000 if sent.at is not None else None
        sent.consumer = str(event.get("consumer"))
        final = event.get("type") == "result" or bool(event.get("final"))
        if final:
            sent.by[sent.consumer] += 1
            sent.finished.set()
            lane.processed += 1
            if latency is not None:
                lane.latencies.append(latency)
            if sent.lane == "queue" and sent.by.total() > 1:
                lane.duplicates += 1
        template = "fragments/lab_job.html" if sent.lane == "queue" else "fragments/lab_reply.html"
        state = "done" if event["type"] == "result" else "failed"
        html = render_fragment(template, job=event, sent=sent, state=state, latency=latency)
        return html + self._counters()

    def _counters(self) -> str:
        return "".join(
            render_fragment("fragments/lab_counters.html", lane_name=name, lane=lane, oob=True)
            for name, lane in self.lanes.items()
        )

    async def close(self, code: int, reason: str) -> None:
        await self.inner.close(code, reason)


@router.websocket("/ui/lab/ws")
async def lab_socket(websocket: WebSocket) -> None:
    def page(socket: Transport, state: AppState) -> Transport:
        settings = state["settings"]
        scenarios = Scenarios(state["redis"], state["keys"], settings)
        return LabTransport(socket, scenarios, lambda token: is_admin(settings, token))

    await serve_page_session(websocket, page)
