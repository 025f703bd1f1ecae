"""What one session saw during a fault scenario: each frame it sent and the replies to it, each
job and its events, with the time each came (seconds from the start of the scenario).

Kept apart from the socket handling (backend.bench.faults_client), so what counts as a reply, a
final event or a take-over is stated once, and the report reads it from here.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

WAITING = "waiting"  # sent, no reply to it yet
RETRY = "retry"  # answered `unavailable`: to be sent again with the same key
ACCEPTED = "accepted"
REFUSED = "refused"  # answered with another error: nothing to send again
RETRY_DELAY = 0.25  # seconds before a frame answered `unavailable` goes out again
JOB_EVENTS = ("started", "progress", "result", "failed", "cancelled")
FINAL = ("result", "failed", "cancelled")  # a `failed` that is not final is kept as `retried`


@dataclass
class Frame:
    """One `send` of the load: its ref and key never change, however often it goes out."""

    ref: str
    text: str  # the JSON frame, the same on every send
    state: str = ""
    sends: list[tuple[float, int]] = field(default_factory=list)  # (when, connection number)
    replies: list[tuple[float, str]] = field(default_factory=list)  # (when, what)
    ids: set[str] = field(default_factory=set)
    unavailable: int = 0
    retry_at: float = 0.0

    def trace(self) -> str:
        sends = ", ".join(f"{when:.2f}s on connection {conn}" for when, conn in self.sends)
        replies = ", ".join(f"{what} at {when:.2f}s" for when, what in self.replies) or "none"
        return f"frame {self.ref}: sent {sends}; replies: {replies}"


@dataclass
class Job:
    """One accepted job: its events as the session received them."""

    id: str
    ref: object
    events: list[tuple[float, str, str, int]] = field(default_factory=list)
    finals: int = 0  # result, final failure or cancellation
    results: int = 0
    accepted: bool = False  # an `accepted` named it (events may come first, after a resume)
    accepted_at: float = 0.0

    def starts(self) -> list[tuple[float, str, int]]:
        """(when, consumer, attempt) of each `started`."""
        return [
            (when, who, attempt) for when, kind, who, attempt in self.events if kind == "started"
        ]

    def trace(self) -> str:
        steps = ", ".join(
            f"{kind}{f' by {who}' if who else ''}{f' #{n}' if n else ''} at {when:.2f}s"
            for when, kind, who, n in self.events
            if kind != "progress"
        )
        return f"job {self.id} (frame {self.ref}): {steps or 'no event after accepted'}"


class Ledger:
    """Every frame and job of one scenario, and the counts a careful client keeps."""

    def __init__(self, frames: list[Frame]) -> None:
        self.started = time.monotonic()
        self.frames = frames
        self.by_ref = {frame.ref: frame for frame in frames}
        self.jobs: dict[str, Job] = {}
        self.pending: set[str] = set()  # refs waiting for a reply or for their retry
        self.retries: deque[str] = deque()  # refs answered `unavailable`, oldest first
        self.open_jobs = 0  # accepted, no final event yet
        self.accepted = 0  # jobs accepted so far
        self.counts: Counter[str] = Counter()
        self.last_progress = 0.0
        self.notes: list[str] = []  # what happened to the session, in order (bounded)

    def clock(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        if len(self.notes) < 40:
            self.notes.append(f"{self.clock():.2f}s {text}")

    def sending(self, frame: Frame, connection: int) -> None:
        if not frame.sends:
            self.last_progress = self.clock()
        frame.sends.append((self.clock(), connection))
        frame.state = WAITING
        self.pending.add(frame.ref)

    def finished(self, sent_all: bool) -> bool:
        return sent_all and not self.pending and not self.open_jobs

    def observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in ("accepted", "error"):
            frame = self.by_ref.get(str(event.get("ref")))
            if frame is None:
                self.counts["stray_replies"] += 1
            elif kind == "accepted":
                self._accepted(frame, event)
            else:
                self._error(frame, str(event.get("code")))
        elif kind in JOB_EVENTS:
            self._job_event(str(event.get("type")), event)

    def _accepted(self, frame: Frame, event: dict[str, Any]) -> None:
        job_id, now = str(event.get("id")), self.clock()
        duplicate = " (duplicate)" if event.get("duplicate") else ""
        frame.replies.append((now, f"accepted {job_id}{duplicate}"))
        if duplicate and frame.unavailable and not frame.ids:
            self.counts["false_unavailable"] += 1  # `unavailable`, yet the job had been stored
        if frame.ids and job_id not in frame.ids:
            self.counts["extra_jobs"] += 1  # a second job for one key
        frame.ids.add(job_id)
        frame.state = ACCEPTED
        self.pending.discard(frame.ref)
        job = self.jobs.setdefault(job_id, Job(job_id, frame.ref))
        if not job.accepted:
            job.accepted, job.accepted_at = True, now
            self.open_jobs += not job.finals
            self.accepted += 1
        self.last_progress = now

    def _error(self, frame: Frame, code: str) -> None:
        now = self.clock()
        frame.replies.append((now, f"error {code}"))
        if code != "unavailable":
            self.counts["errors"] += 1
            if frame.state == WAITING:
                frame.state = REFUSED
                self.pending.discard(frame.ref)
            return
        self.counts["unavailable"] += 1
        frame.unavailable += 1
        if frame.state == WAITING:
            frame.state, frame.retry_at = RETRY, now + RETRY_DELAY
            self.retries.append(frame.ref)

    def _job_event(self, kind: str, event: dict[str, Any]) -> None:
        job_id, now = str(event.get("id")), self.clock()
        job = self.jobs.get(job_id)
        if job is None:  # an event before its job's `accepted`
            job = self.jobs[job_id] = Job(job_id, event.get("ref"))
            self.counts["events_before_accepted"] += 1
        attempt = event.get("attempt")
        who = str(event.get("consumer") or "")
        if kind == "failed" and not event.get("final"):
            kind = "retried"  # an attempt failed, another follows
        job.events.append((now, kind, who, attempt if isinstance(attempt, int) else 0))
        if kind in FINAL:
            job.finals += 1
            job.results += kind == "result"
            if job.finals == 1 and job.accepted:
                self.open_jobs -= 1
        if kind != "progress":
            self.last_progress = now

    def due_retry(self) -> Frame | None:
        """The oldest frame answered `unavailable` whose wait is over."""
        while self.retries:
            frame = self.by_ref[self.retries[0]]
            if frame.state != RETRY:
                self.retries.popleft()
            elif frame.retry_at <= self.clock():
                self.retries.popleft()
                return frame
            else:
                return None
        return None


def takeover(ledger: Ledger, dead: str, killed_at: float) -> list[float | None]:
    """For each job the dead consumer held, the seconds from the kill until another consumer
    started it (None: never). A job counts as held when the dead consumer started it and did
    not end it, or when it was started again with a higher attempt (its first `started` may
    never have been told)."""
    held = [job for job in ledger.jobs.values() if _held(job, dead)]
    again: list[float | None] = []
    for job in held:
        later = [when for when, who, _ in job.starts() if who != dead and when >= killed_at]
        again.append(min(later) - killed_at if later else None)
    return again


def _held(job: Job, dead: str) -> bool:
    starts = job.starts()
    if any(attempt > 1 for _, _, attempt in starts):
        return True
    ended_by_dead = any(kind == "result" and who == dead for _, kind, who, _ in job.events)
    return any(who == dead for _, who, _ in starts) and not ended_by_dead


def at_fault(ledger: Ledger, at: float) -> tuple[int, int]:
    """Jobs accepted before the fault, and how many of those had not ended when it came: the
    ones a crash could have lost."""
    before = [job for job in ledger.jobs.values() if job.accepted and job.accepted_at < at]
    ends = ([when for when, kind, *_ in job.events if kind in FINAL] for job in before)
    return len(before), sum(1 for times in ends if not times or min(times) > at)
