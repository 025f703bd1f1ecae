"""The WebSocket JSON protocol: every client message is one pydantic model here.

Server events are plain JSON objects built where they happen (Lua scripts for job events);
`docs/protocol.md` lists them all. Protocol version 1.
"""

from __future__ import annotations

import re
import secrets
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.core.options import JobOptions

PROTOCOL_VERSION = 1

Ref = Annotated[str, Field(max_length=128)] | Annotated[int, Field(strict=True)]
# A session id is what `new_session_id` makes: 128 random bits, base64url without padding, so
# its 22nd character carries 2 bits (one of A, Q, g, w). Anything else was not issued here.
SESSION_PATTERN = r"^[A-Za-z0-9_-]{21}[AQgw]$"
MAX_DEPTH = 32  # lists and objects nested in one message


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
    OUTCOME_UNKNOWN = "outcome_unknown"
    NOT_IN_ROOM = "not_in_room"
    NAME_TAKEN = "name_taken"
    TOO_DEEP = "too_deep"
    INTERNAL = "internal_error"
    INVALID_TIMEOUT = "invalid_timeout"
    INVALID_DELAY = "invalid_delay"
    INVALID_AT = "invalid_at"
    INVALID_PRIORITY = "invalid_priority"
    INVALID_KEY = "invalid_key"
    DELAY_AND_AT = "delay_and_at"


class ProtocolError(Exception):
    """A client message that cannot be served; becomes an `error` event, the socket stays open."""

    def __init__(
        self, code: ErrorCode, detail: str, ref: object = None, job_id: str | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref = ref
        self.job_id = job_id  # the job an `outcome_unknown` is about


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SendQueue(Message, JobOptions):
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
    # Coming back: the last room offset this member saw, and the room's epoch then.
    offset: Annotated[int, Field(ge=0, strict=True)] = 0
    epoch: str | None = Field(default=None, min_length=1, max_length=32)
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
RULES = {
    "room": "1-32 of a-z 0-9 _ -, starting with a letter or digit",
    "name": "1-24 letters, digits, spaces, _ . -, not starting or ending with a space",
    "topic": "1-64 of A-Z a-z 0-9 _ . -",
}


_session_id = re.compile(SESSION_PATTERN)


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def is_session_id(text: str) -> bool:
    return _session_id.match(text) is not None
