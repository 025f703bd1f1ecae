"""One resumable `/ws` session, driven the way a careful client drives one through faults.

- Every `send` carries a unique `ref` and a unique idempotency `key`, so sending it again can
  never make a second job.
- A dropped connection is opened again with `?session=S&after=<last seq>`, on the same web
  process, or on the next one when that one refuses connections.
- Once the resumed events are in (`welcome.resumed` of them), a frame sent on an earlier
  connection that still has no reply is sent again, same ref and key (`resent`).
- A frame answered `unavailable` is sent again RETRY_DELAY later, same ref and key.
- Events are taken once by `seq`: one at or below the last seq seen is dropped (`repeated`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from backend.bench.faults_trace import WAITING, Frame, Ledger

UNNUMBERED = ("error", "pong")  # replies whose seq is not kept for resume (and may repeat)
QUIET = 20.0  # seconds without progress after which the session stops waiting
CONNECT_PAUSE = 0.2  # seconds between two tries to connect
CATCH_UP_LIMIT = 5.0  # seconds the announced resumed events may take to come


class Session:
    """Sends the ledger's frames, at most `window` outstanding (frames without a reply and jobs
    without a final event), until everything is answered and ended, nothing moved for QUIET
    seconds, or the scenario's clock reaches `until`."""

    def __init__(self, urls: list[str], ledger: Ledger, window: int, until: float) -> None:
        self.urls = urls
        self.ledger = ledger
        self.window = window
        self.until = until
        self.web = 0  # index of the web process the session is on
        self.session = ""
        self.seq = 0
        self.connection = 0  # how many connections were opened so far
        self.catching_up = 0  # resumed events still to come
        self.resend: deque[Frame] = deque()
        self.next = 0  # index of the next frame never sent
        self.wake = asyncio.Event()

    @property
    def sent(self) -> int:
        return self.next

    def over(self) -> bool:
        ledger, now = self.ledger, self.ledger.clock()
        if ledger.finished(self.next == len(ledger.frames)) or now > self.until:
            return True
        return now - ledger.last_progress > QUIET

    async def run(self) -> None:
        while not self.over():
            socket = await self._connect()
            if socket is None:
                break
            try:
                await self._serve(socket)
            finally:
                with contextlib.suppress(Exception):
                    await socket.close()
        ledger = self.ledger
        if not ledger.finished(self.next == len(ledger.frames)):
            why = "time limit" if ledger.clock() > self.until else f"{QUIET:g}s without progress"
            ledger.note(
                f"stopped waiting ({why}): {len(ledger.pending)} frames without a reply,"
                f" {ledger.open_jobs} jobs not ended, {len(ledger.frames) - self.next} never sent"
            )

    async def _connect(self) -> ClientConnection | None:
        while not self.over():
            url = self.urls[self.web]
            if self.session:
                url += f"?session={self.session}&after={self.seq}"
            try:
                socket = await connect(url, open_timeout=3, close_timeout=1, max_queue=None)
            except OSError as exc:  # refused: that web process is gone, try the next
                self.ledger.note(f"connect to web-{self.web + 1} failed: {exc}")
                self.web = (self.web + 1) % len(self.urls)
            except (InvalidHandshake, TimeoutError) as exc:
                self.ledger.note(f"connect to web-{self.web + 1} failed: {exc!r}")
            else:
                if await self._welcomed(socket):
                    return socket
            await asyncio.sleep(CONNECT_PAUSE)
        return None

    async def _welcomed(self, socket: ClientConnection) -> bool:
        try:
            event = json.loads(await asyncio.wait_for(socket.recv(), 5))
        except (ConnectionClosed, TimeoutError) as exc:
            self.ledger.note(f"no welcome on web-{self.web + 1}: {exc!r}")
            await socket.close()
            return False
        if not isinstance(event, dict) or event.get("type") != "welcome":
            self.ledger.note(f"a first event that is not a welcome: {event!r}"[:200])
            await socket.close()
            return False
        resumed = int(event.get("resumed") or 0)
        if self.session:
            self.ledger.counts["reconnects"] += 1
            self.ledger.note(f"resumed on web-{self.web + 1} after {self.seq}: {resumed} events")
        self.session = str(event.get("session"))
        self.connection += 1
        self.catching_up = resumed
        if resumed:
            loop = asyncio.get_running_loop()
            loop.call_later(CATCH_UP_LIMIT, self._late_catch_up, self.connection)
        else:
            self._caught_up()
        return True

    def _late_catch_up(self, connection: int) -> None:
        """Fewer events came than the welcome announced: resend anyway, and say so."""
        if self.catching_up and connection == self.connection:
            self.ledger.note(f"{self.catching_up} announced resumed events never came")
            self.catching_up = 0
            self._caught_up()

    def _caught_up(self) -> None:
        """Frames sent on an earlier connection and still without a reply go out again."""
        for frame in self.ledger.frames[: self.next]:
            if frame.state == WAITING and frame.sends[-1][1] < self.connection:
                self.resend.append(frame)
                self.ledger.counts["resent"] += 1

    async def _serve(self, socket: ClientConnection) -> None:
        """Reads and sends until the session is over or the connection drops."""
        reader = asyncio.create_task(self._read(socket))
        sender = asyncio.create_task(self._send(socket))
        try:
            done, _ = await asyncio.wait((reader, sender), return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the run is cancelled: no task is left behind
            for task in (reader, sender):
                task.cancel()
            await asyncio.gather(reader, sender, return_exceptions=True)
        failures = [task.exception() for task in done]
        for failure in failures:
            if failure is not None and not isinstance(failure, ConnectionClosed | OSError):
                raise failure
        if any(failures):  # the reader and the sender may both have seen the drop
            dropped = next(failure for failure in failures if failure)
            self.ledger.note(f"connection {self.connection} dropped: {dropped!r}"[:200])

    async def _read(self, socket: ClientConnection) -> None:
        while True:
            event = json.loads(await socket.recv())
            if isinstance(event, dict):
                self._take(event)
            self.wake.set()

    def _take(self, event: dict[str, Any]) -> None:
        kind, seq = event.get("type"), event.get("seq")
        if isinstance(seq, int) and kind not in UNNUMBERED:
            if seq <= self.seq:
                self.ledger.counts["repeated"] += 1
                return
            if seq > self.seq + 1 and not self.catching_up:
                self.ledger.note(f"seq jumped from {self.seq} to {seq} ({kind})")
            if self.catching_up:
                self.catching_up -= 1
                if not self.catching_up:
                    self._caught_up()
        if isinstance(seq, int):
            self.seq = max(self.seq, seq)
        self.ledger.observe(event)

    async def _send(self, socket: ClientConnection) -> None:
        while not self.over():
            frame = self._next_frame()
            if frame is None:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), 0.05)
                continue
            self.ledger.sending(frame, self.connection)
            await socket.send(frame.text)

    def _next_frame(self) -> Frame | None:
        """What to send now: a frame to send again after a resume, then one whose `unavailable`
        wait is over, then a new one if the window has room."""
        while self.resend and not self.catching_up:
            frame = self.resend.popleft()
            if frame.state == WAITING:
                return frame
        retry = self.ledger.due_retry()
        if retry is not None:
            return retry
        ledger = self.ledger
        room = len(ledger.pending) + ledger.open_jobs < self.window
        if self.next < len(ledger.frames) and room:
            self.next += 1
            return ledger.frames[self.next - 1]
        return None
