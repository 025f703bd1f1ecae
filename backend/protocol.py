"""The WebSocket JSON protocol: every client message is one pydantic model here.

Server events are plain JSON objects built where they happen (Lua scripts for job events);
`docs/protocol.md` lists them all. Protocol version 1.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

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


ClientMessage = Annotated[SendQueue | Cancel | Ping, Field(discriminator="type")]
MESSAGE_TYPES = ("send", "cancel", "ping")
MODES = ("queue",)
_client_message: TypeAdapter[SendQueue | Cancel | Ping] = TypeAdapter(ClientMessage)


def parse_message(raw: str) -> SendQueue | Cancel | Ping:
    """Parses one text frame, raising ProtocolError with the most specific code that applies."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "a message must be a JSON object")
    ref = _safe_ref(data.get("ref"))
    kind = data.get("type")
    if kind not in MESSAGE_TYPES:
        known = ", ".join(MESSAGE_TYPES)
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown type {kind!r}; use one of {known}", ref
        )
    if kind == "send" and data.get("mode", "queue") not in MODES:
        known = ", ".join(MODES)
        detail = f"unknown mode {data.get('mode')!r}; use one of {known}"
        raise ProtocolError(ErrorCode.UNKNOWN_MODE, detail, ref)
    try:
        return _client_message.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, describe(exc), ref) from None


def describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error["loc"][1:]]  # drop the union tag
        field = ".".join(location) or "message"
        problems.append(f"{field}: {error['msg']}")
    return "; ".join(problems)


def _safe_ref(ref: object) -> object:
    """Echo a ref only if it is one a client could have meant (short string or integer)."""
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return None
    return ref if not isinstance(ref, str) or len(ref) <= 128 else None
