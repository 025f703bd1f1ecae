"""Presence changes told in runs: one event per run of joins (or leaves), with the run's last
offset; a lone change goes out as it was published."""

from __future__ import annotations

import json

from backend.sessions.presence import Gathering, change_of, told


def published(kind: str, name: str, offset: int, epoch: str = "e1") -> str:
    head = json.dumps({"room": "lobby", "offset": offset, "epoch": epoch}, separators=(",", ":"))
    return f'{head[:-1]},"type":"{kind}","names":["{name}"]}}'


def test_only_joined_and_left_are_changes() -> None:
    assert change_of(published("joined", "ann", 1)) is not None
    chat = '{"room":"lobby","offset":2,"epoch":"e1","type":"chat","name":"left","text":"joined"}'
    assert change_of(chat) is None


def test_a_lone_change_is_told_as_published() -> None:
    event = published("joined", "ann", 4)
    change = change_of(event)
    assert change is not None
    assert told("lobby", [change]) == [(event, 4)]


def test_runs_of_the_same_kind_become_one_event_each() -> None:
    events = [
        published("joined", "ann", 1),
        published("joined", "bob", 2),
        published("left", "ann", 3),
        published("joined", "cy", 4),
        published("joined", "dee", 5),
    ]
    changes = [c for c in map(change_of, events) if c is not None]
    out = [(json.loads(event), offset) for event, offset in told("lobby", changes)]
    assert [(e["type"], e["names"], e["offset"], offset) for e, offset in out] == [
        ("joined", ["ann", "bob"], 2, 2),
        ("left", ["ann"], 3, 3),
        ("joined", ["cy", "dee"], 5, 5),
    ]
    assert all((e["room"], e["epoch"]) == ("lobby", "e1") for e, _ in out)


def test_a_new_epoch_starts_a_new_run() -> None:
    events = [published("joined", "ann", 7, "old"), published("joined", "bob", 1, "new")]
    changes = [c for c in map(change_of, events) if c is not None]
    assert [offset for _, offset in told("lobby", changes)] == [7, 1]


def test_a_gathering_tells_each_member_what_came_after_its_offset() -> None:
    changes = [
        c
        for c in (change_of(published("joined", n, o)) for n, o in [("a", 3), ("b", 4), ("c", 5)])
        if c
    ]
    gathering = Gathering("lobby", changes)
    everyone = gathering.after(1)
    assert [offset for _, offset in everyone] == [5]
    assert json.loads(everyone[0][0])["names"] == ["a", "b", "c"]
    assert gathering.after(2) is everyone  # joined before all of them: the same events
    among = gathering.after(4)
    assert [json.loads(event)["names"] for event, _ in among] == [["c"]]
    assert gathering.after(4) is among  # made once for all who joined at 4
    assert gathering.after(5) == []
