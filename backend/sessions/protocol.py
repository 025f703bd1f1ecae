"""The WebSocket JSON protocol: every client message is one pydantic model here.

Server events are plain JSON objects built where they happen (Lua scripts for job events);
`docs/protocol.md` lists them all. Protocol version 1.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from backend.core.sends import is_encodable

PROTOCOL_VERSION = 1

Ref = Annotated[str, Field(max_length=128)] | Annotated[int, Field(strict=True)]
SESSION_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_MODE = "unknown_mode"
    UNKNOWN_TASK = "unknown_task"
    INVALID_ARGS = "invalid_args"
    TEXT_TOO_LONG = "text_too_long"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    ALREADY_FINISHED = "already_finished"
    UNAVAILABLE = "unavailable"
    NOT_IN_ROOM = "not_in_room"
    NAME_TAKEN = "name_taken"
    INTERNAL = "internal_error"


class ProtocolError(Exception):
    """A client message that cannot be served; becomes an `error` event, the socket stays open."""

    def __init__(self, code: ErrorCode, detail: str, ref: object = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref = ref


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SendQueue(Message):
    type: Literal["send"]
    mode: Literal["queue"] = "queue"
    text: str
    task: str = Field(default="uppercase", max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    ref: Ref | None = None


class Cancel(Message):
    type: Literal["cancel"]
    id: str = Field(max_length=64)
    ref: Ref | None = None


class Ping(Message):
    type: Literal["ping"]
    ref: Ref | None = None


TOPIC_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
ROOM_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
NAME_PATTERN = r"^[\w.-](?:[\w .-]{0,22}[\w.-])?$"


class SendPubsub(Message):
    type: Literal["send"]
    mode: Literal["pubsub"]
    text: str
    topic: str = Field(default="demo", pattern=TOPIC_PATTERN)
    task: str = Field(default="uppercase", max_length=100)
    args: dict[str, Any] = Field(default_factory=dict)
    ref: Ref | None = None


class Join(Message):
    type: Literal["join"]
    room: str = Field(pattern=ROOM_PATTERN)
    name: str = Field(pattern=NAME_PATTERN)
    ref: Ref | None = None


class Leave(Message):
    type: Literal["leave"]
    room: str = Field(pattern=ROOM_PATTERN)
    ref: Ref | None = None


class Chat(Message):
    type: Literal["chat"]
    room: str = Field(pattern=ROOM_PATTERN)
    text: str
    ref: Ref | None = None


Request = SendQueue | SendPubsub | Cancel | Ping | Join | Leave | Chat
MESSAGE_TYPES = ("send", "cancel", "ping", "join", "leave", "chat")
MODES = ("queue", "pubsub")
_other = TypeAdapter[Cancel | Ping | Join | Leave | Chat](
    Annotated[Cancel | Ping | Join | Leave | Chat, Field(discriminator="type")]
)
_sends: dict[str, TypeAdapter[SendQueue] | TypeAdapter[SendPubsub]] = {
    "queue": TypeAdapter(SendQueue),
    "pubsub": TypeAdapter(SendPubsub),
}
RULES = {
    "room": "1-32 of a-z 0-9 _ -, starting with a letter or digit",
    "name": "1-24 letters, digits, spaces, _ . -, not starting or ending with a space",
    "topic": "1-64 of A-Z a-z 0-9 _ . -",
}


def parse_message(raw: str) -> Request:
    """Parses one text frame, raising ProtocolError with the most specific code that applies."""
    data = _decode(raw)
    ref = _safe_ref(data.get("ref"))
    kind = data.get("type")
    if kind not in MESSAGE_TYPES:
        known = ", ".join(MESSAGE_TYPES)
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown type {kind!r}; use one of {known}", ref
        )
    mode = data.get("mode", "queue") if kind == "send" else None
    if kind == "send" and mode not in MODES:
        known = ", ".join(MODES)
        detail = f"unknown mode {mode!r}; use one of {known}"
        raise ProtocolError(ErrorCode.UNKNOWN_MODE, detail, ref)
    try:
        if kind == "send":
            return _sends[str(mode)].validate_python(data)
        return _other.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, describe(exc), ref) from None


def _decode(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "a message must be a JSON object")
    if "\\u" in raw and not is_encodable(data):
        detail = "the message contains an unpaired surrogate (\\ud800-\\udfff escape)"
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, detail)
    return data


def describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error["loc"] if part not in MESSAGE_TYPES]
        field = ".".join(location) or "message"
        message = error["msg"]
        if error["type"] == "string_pattern_mismatch" and field in RULES:
            message = f"must be {RULES[field]}"
        problems.append(f"{field}: {message}")
    return "; ".join(problems)


def _safe_ref(ref: object) -> object:
    """Echo a ref only if it is one a client could have meant (short string or integer)."""
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return None
    return ref if not isinstance(ref, str) or len(ref) <= 128 else None
