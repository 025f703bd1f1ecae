"""Random WebSocket frames for fuzzing Courier's sockets, from a seeded generator, and what the
server must answer to each: the protocol's own parser (docs/protocol.md) says which error code
a frame earns, so every answer can be checked, not only counted.

A frame is raw bytes (UTF-8 text or binary), sent whole or in fragments. Everything here is
deterministic for a given seed.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any

from backend.sessions.parsing import parse_message
from backend.sessions.protocol import Chat, Join, Leave, Ping, ProtocolError, SendPubsub, SendQueue

REPLY_TYPES = ("accepted", "pong", "error")  # the session events that answer a frame
SEND_CODES = frozenset({"unknown_task", "invalid_args", "text_too_long"})
ROOM_CODES = frozenset(
    {"not_in_room", "name_taken", "rate_limited", "text_too_long", "invalid_message"}
)
UNIQUE_REFS = 10**9  # refs from here up are the generator's own, one per frame

TEMPLATES: dict[str, dict[str, Any]] = {
    "queue": {"type": "send", "mode": "queue", "text": "fuzz", "task": "uppercase", "args": {}},
    "options": {"type": "send", "text": "fuzz", "timeout": 5, "delay": 0, "priority": 5},
    "pubsub": {"type": "send", "mode": "pubsub", "topic": "fuzz", "text": "x", "task": "reverse"},
    "cancel": {"type": "cancel", "id": "0123456789abcdef"},
    "ping": {"type": "ping"},
    "join": {"type": "join", "room": "fuzz", "name": "alice"},
    "rejoin": {"type": "join", "room": "fuzz", "name": "bob", "offset": 3, "epoch": "e0"},
    "leave": {"type": "leave", "room": "fuzz"},
    "chat": {"type": "chat", "room": "fuzz", "text": "hi"},
}
ROOM_TEMPLATES = ("join", "rejoin", "leave", "chat")
ODD: list[Any] = [
    None, True, False, 0, -1, 1, 1.5, -0.0, 1e308, float("inf"), 2**53 + 1, 2**63, -(2**64),
    10**40, "", " ", "x" * 129, "\x00", "a\x00b", "\u202e", "\ufeff", "\U0001f600", "é" * 40,
    "send", "queue", "pubsub", "lobby", "alice", "../..", "{slot}", "*", [], [1, "a"], {},
    {"a": None}, [[[[]]]], {"type": "ping"},
]  # fmt: skip
PLAUSIBLE: dict[str, list[Any]] = {
    "type": ["send", "cancel", "ping", "join", "leave", "chat", "pong", "SEND", "welcome"],
    "mode": ["queue", "pubsub", "QUEUE", "stream"],
    "task": ["uppercase", "reverse", "wordcount", "fib", "flaky", "sleep", "fail", "nope",
             "x" * 101],
    "args": [{}, {"n": 20}, {"n": 36}, {"n": "20"}, {"seconds": 0.05}, {"seconds": 601},
             {"seconds": -1}, {"p": 0}, {"p": 2}, {"extra": 1}, {"n": 1e999}],
    "timeout": [0, 0.001, 86400, 86401, -5, "5", True],
    "delay": [0, 0.5, 31_622_401, -1, "0", 1e999],
    "at": [0, 1.0, 4_102_444_801, -1, 4_102_444_800, "now"],
    "priority": [0, 9, 10, -1, 5.0, "5", True],
    "key": ["k", "", "k" * 128, "k" * 129, "\x00", "\U0001f511", 7],
    "topic": ["demo", "fuzz", "", "a b", "t" * 65, "ü"],
    "id": ["", "x" * 64, "x" * 65, "00000000-0000-0000-0000-000000000000", "*"],
    "room": ["fuzz", "lobby", "a", "r" * 32, "r" * 33, "Fuzz", "-x", "ü", ""],
    "name": ["alice", "bob", "a b", " a", "a ", "n" * 24, "n" * 25, "\u00e9l\u00e9", "a\nb"],
    "offset": [0, 1, 2**40, -1, 1.0, "3"],
    "epoch": ["e0", "", "x" * 33, 0],
    "text": ["", "   ", "fuzz", "\x00", "ü" * 1500, "y" * 17_000, "\U0001f600" * 10],
    "ref": ["r", "", "x" * 128, "x" * 129, 0, -7, 2**63, 10**30, 1.0, True, None, [], {}],
}  # fmt: skip
INVALID_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80"]


@dataclass
class Expected:
    """What must answer a frame: a session reply of one of `replies` (an `error` with one of
    `codes`) echoing `ref`; a valid room message (`room` set) is answered by room events
    instead, or by one `error`."""

    replies: frozenset[str]
    codes: frozenset[str] = frozenset()
    ref: object = None
    room: tuple[str, str] | None = None


@dataclass
class Frame:
    label: str
    chunks: list[bytes]  # one chunk, or the fragments of one message
    text: bool = True
    control: bool = False  # a WebSocket ping: nothing at the protocol level answers it
    expected: Expected = field(default_factory=lambda: Expected(frozenset()))


def expect(data: bytes, text: bool) -> Expected:
    """The answer docs/protocol.md promises for one whole message."""
    if not text:
        return Expected(frozenset({"error"}), frozenset({"invalid_message"}))
    try:
        message = parse_message(data.decode())
    except ProtocolError as exc:
        return Expected(frozenset({"error"}), frozenset({exc.code.value}), exc.ref)
    if isinstance(message, Ping):
        return Expected(frozenset({"pong"}), ref=message.ref)
    if isinstance(message, SendQueue | SendPubsub):
        return Expected(frozenset({"accepted", "error"}), SEND_CODES, message.ref)
    if isinstance(message, Join | Leave | Chat):
        room = (message.type, message.room)
        return Expected(frozenset({"error"}), ROOM_CODES, message.ref, room)
    return Expected(frozenset({"error"}), frozenset({"not_found"}), message.ref)  # cancel


class FrameMaker:
    """Random frames of every kind a client could send, from one seed."""

    def __init__(self, seed: int, rooms: tuple[str, ...] = ()) -> None:
        """With `rooms` (message types: join, leave, chat): room messages only, valid ones of
        those types included. Otherwise every kind of frame but a valid room message: room
        events answer those, outside the order of replies."""
        self.rng = random.Random(seed)
        self.rooms = rooms
        self.templates = [k for k in TEMPLATES if not rooms or k in ROOM_TEMPLATES]
        self.made = 0
        self.kinds = [(self.message, 10), (self.mangled, 3)] if rooms else [
            (self.message, 10), (self.mangled, 4), (self.binary, 2), (self.noise, 2),
            (self.scalar, 1), (self.deep, 1), (self.big, 1), (self.fragmented, 2),
            (self.control, 1),
        ]  # fmt: skip

    def frame(self) -> Frame:
        """The next frame. A valid room message carries a ref of its own, the only thing that
        tells its `error`, if any, from other replies."""
        while True:
            self.made += 1
            makers, weights = zip(*self.kinds, strict=True)
            made: Frame = self.rng.choices(makers, weights)[0]()
            if made.control:
                return made
            made.expected = expect(b"".join(made.chunks), made.text)
            room = made.expected.room
            if room is None or (room[0] in self.rooms and made.expected.ref == self.unique_ref()):
                return made

    def unique_ref(self) -> int:
        return UNIQUE_REFS + self.made

    def message_dict(self) -> dict[str, Any]:
        """A protocol message with 0-3 fields made odd."""
        kind = self.rng.choice(self.templates)
        data = copy.deepcopy(TEMPLATES[kind]) | {"ref": self.unique_ref()}
        for _ in range(self.rng.choice((0, 0, 0, 1, 1, 2, 3))):
            self.mutate(data)
        return data

    def mutate(self, data: dict[str, Any]) -> None:
        """One field set to a plausible or an odd value (mostly one of the message's own
        fields, sometimes another message's or an unknown one), or one field left out."""
        rng = self.rng
        where = rng.random()
        own = where < 0.65 and data
        name = rng.choice(list(data) if own else list(PLAUSIBLE)) if where < 0.9 else self.word()
        roll = rng.random()
        if roll < 0.6 and name in PLAUSIBLE:
            data[name] = rng.choice(PLAUSIBLE[name])
        elif roll < 0.85:
            data[name] = rng.choice([*ODD, self.word(), rng.randint(-(2**70), 2**70)])
        elif data:
            data.pop(rng.choice(list(data)))

    def encode(self, data: object) -> bytes:
        return json.dumps(data, ensure_ascii=self.rng.random() < 0.3).encode()

    def message(self) -> Frame:
        data = self.message_dict()
        return Frame(f"message:{data.get('type')!s:.12}", [self.encode(data)])

    def mangled(self) -> Frame:
        """A message broken at the text level: cut short, a raw NUL or control character,
        a lone surrogate escape, a duplicate key, trailing garbage."""
        raw = self.encode(self.message_dict()).decode()
        rng = self.rng
        at = rng.randrange(len(raw) + 1)
        how = rng.choice(("truncate", "insert", "surrogate", "duplicate", "garbage", "wrap"))
        if how == "truncate":
            raw = raw[:at]
        elif how == "insert":
            raw = raw[:at] + rng.choice(("\x00", "\x01", "\n", "\u2028", "\\", '"', "}")) + raw[at:]
        elif how == "surrogate":
            raw = raw.replace('"ref": ', '"ref": "\\ud83d", "x": ', 1) if at % 2 else raw
            raw = raw.replace('"type": "', '"type": "\\udc00', 1)
        elif how == "duplicate":
            raw = raw.replace("{", '{"type": "ping", ', 1)
        elif how == "garbage":
            raw += rng.choice(("x", "}", "{}", " \t\r\n", "\x00", "//"))
        else:
            raw = f"[{raw}]"
        return Frame(f"mangled:{how}", [raw.encode()])

    def binary(self) -> Frame:
        size = self.rng.choice((0, 1, 2, 16, 300, 4096))
        return Frame("binary", [self.rng.randbytes(size)], text=False)

    def noise(self) -> Frame:
        """Text that is valid UTF-8 but rarely JSON: any code point but lone surrogates."""
        return Frame("noise", [self.word(self.rng.choice((0, 1, 8, 200))).encode()])

    def word(self, length: int = 6) -> str:
        ranges = ((0, 0x7F), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF))
        picked = (self.rng.choice(ranges) for _ in range(length))
        return "".join(chr(self.rng.randint(low, high)) for low, high in picked)

    def scalar(self) -> Frame:
        text = self.rng.choice(("1", "null", '"ping"', "[]", "true", "-0", "1e999", '""', " "))
        return Frame("scalar", [text.encode()])

    def deep(self) -> Frame:
        depth = self.rng.choice((31, 32, 33, 100, 20_000))
        if self.rng.random() < 0.5:
            text = "[" * depth + "]" * depth
        else:
            text = '{"type": "ping", "ref": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
        return Frame(f"deep:{depth}", [text.encode()[: 60 * 1024]])

    def big(self) -> Frame:
        """Large but under the 64 KiB frame limit."""
        fill = self.rng.choice(("y" * 60_000, "\U0001f600" * 14_000, "9" * 5000, "\x00" * 9000))
        field = self.rng.choice(("text", "ref", "task", "key", "room"))
        data = self.message_dict() | {field: fill}
        raw = self.encode(data)
        if fill[0] == "9":  # a number longer than Python reads (4300 digits)
            raw = json.dumps(data | {field: 0}).replace('": 0', '": ' + fill, 1).encode()
        return Frame(f"big:{field}", [raw[: 62 * 1024]])

    def fragmented(self) -> Frame:
        """One message in 2-4 fragments, cut anywhere, even inside a UTF-8 character."""
        inner = self.rng.choice((self.message, self.mangled, self.noise, self.binary))()
        data = b"".join(inner.chunks)
        cuts = sorted(self.rng.randint(0, len(data)) for _ in range(self.rng.randint(1, 3)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        return Frame(f"fragmented:{inner.label}", chunks, text=inner.text)

    def control(self) -> Frame:
        data = self.made.to_bytes(4) + self.rng.randbytes(self.rng.randint(0, 121))  # unique
        return Frame("control-ping", [data], control=True)


def closing_frame(kind: str, rng: random.Random) -> tuple[Frame, int]:
    """A frame after which the server must close, and the close code it must use."""
    bad = rng.choice(INVALID_UTF8)
    frames = {
        "invalid-utf8": (Frame(kind, [b'{"type": "ping", "ref": "' + bad + b'"}']), 1007),
        "invalid-utf8-fragment": (Frame(kind, [b'{"type": "pi', b"ng" + bad + b'"}']), 1007),
        "oversize-text": (Frame(kind, [b'{"text": "' + b"z" * 70_000 + b'"}']), 1009),
        "oversize-binary": (Frame(kind, [rng.randbytes(70_000)], text=False), 1009),
        "oversize-fragments": (Frame(kind, [b"[" + b" " * 30_000] * 3), 1009),
    }
    return frames[kind]


CLOSERS = ("invalid-utf8", "invalid-utf8-fragment", "oversize-text", "oversize-binary",
           "oversize-fragments")  # fmt: skip


def match_replies(frames: list[Frame], replies: list[dict[str, Any]], limited: bool) -> list[str]:
    """Problems in the answers: each frame's reply in order, of the right kind, code and ref
    (with `limited`, `rate_limited` may answer any frame)."""
    problems: list[str] = []
    position = 0
    for index, frame in enumerate(f for f in frames if not f.control):
        want = frame.expected
        if position >= len(replies):
            problems.append(f"frame {index} ({frame.label}) got no reply")
            break
        reply = replies[position]
        position += 1
        problem = reply_problem(want, reply, limited)
        if problem:
            problems.append(f"frame {index} ({frame.label}, {show(frame)}): {problem}: {reply}")
    problems += [f"a reply no frame asked for: {extra}" for extra in replies[position:]]
    return problems


def reply_problem(want: Expected, reply: dict[str, Any], limited: bool) -> str:
    if reply.get("ref") != want.ref:
        return f"ref should be {want.ref!r}"
    if limited and reply["type"] == "error" and reply["code"] == "rate_limited":
        return ""
    if reply["type"] not in want.replies:
        return f"type should be one of {sorted(want.replies)}"
    if reply["type"] == "error" and reply["code"] not in want.codes:
        return f"code should be one of {sorted(want.codes)}"
    return ""


def show(frame: Frame) -> str:
    data = b"".join(frame.chunks)
    return repr(data[:160]) + (f"... ({len(data)} bytes)" if len(data) > 160 else "")
