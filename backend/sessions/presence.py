"""Presence changes of a room, gathered for a moment and told as one event per run.

When many members join at once (a class opening a room, a reconnect storm), telling each member
of each join one by one costs M²/2 events. Changes that reach a web process within
`gathering_time` of each other go out together instead: one `joined` (or `left`) event naming
every member of a run, with the offset of the run's last change. A chat message flushes what is
gathered first, so the room's order holds.

The time grows with the process's members in the room, so that a storm costs each web process
at most about PRESENCE_WRITES socket writes a second however large the room: 20 ms up to 250
members, 80 ms at 1,000, 400 ms at 5,000 (and never over PRESENCE_BATCH_MAX).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from backend.core.events import encode

PRESENCE_BATCH = 0.02  # seconds changes are gathered before they are told, at least
PRESENCE_BATCH_MAX = 0.5
PRESENCE_WRITES = 12_500  # a second per web process and room, in a storm of changes
KINDS = ('"type":"joined"', '"type":"left"')


@dataclass(frozen=True)
class Change:
    kind: str  # joined | left
    names: list[str]
    offset: int
    epoch: str
    event: str  # as published


def gathering_time(members: int) -> float:
    """Seconds a web process with `members` in a room gathers the room's changes."""
    return min(PRESENCE_BATCH_MAX, max(PRESENCE_BATCH, members / PRESENCE_WRITES))


def change_of(event: str) -> Change | None:
    """The presence change a room event holds, or None for any other event."""
    head = event[:160]  # the type comes before any name, in the fixed prefix the script writes
    if not any(kind in head for kind in KINDS):
        return None
    data = json.loads(event)
    return Change(data["type"], list(data["names"]), data["offset"], data["epoch"], event)


def told(room: str, changes: list[Change]) -> list[tuple[str, int]]:
    """The events that tell `changes`, one per run of the same kind: (event, its offset)."""
    runs: list[list[Change]] = []
    for change in changes:
        if runs and (runs[-1][0].kind, runs[-1][0].epoch) == (change.kind, change.epoch):
            runs[-1].append(change)
        else:
            runs.append([change])
    return [_one(room, run) for run in runs]


def _one(room: str, run: list[Change]) -> tuple[str, int]:
    if len(run) == 1:
        return run[0].event, run[0].offset
    last = run[-1]
    names = [name for change in run for name in change.names]
    body = {"room": room, "offset": last.offset, "epoch": last.epoch, "type": last.kind}
    return encode({**body, "names": names}), last.offset


@dataclass
class Gathering:
    """The changes a web process heard within one PRESENCE_BATCH. A member is told those after
    the last offset it has seen; members who joined together have seen the same, so the events
    for each such offset are made once (`after`), not once per member."""

    room: str
    changes: list[Change] = field(default_factory=list)
    made: dict[int, list[tuple[str, int]]] = field(default_factory=dict)

    def after(self, seen: int) -> list[tuple[str, int]]:
        if seen < self.changes[0].offset:  # joined before all of them: nearly every member
            seen = -1
        events = self.made.get(seen)
        if events is None:
            later = [change for change in self.changes if change.offset > seen]
            events = self.made[seen] = told(self.room, later)
        return events
