"""Turning one text frame into one protocol message, decoded once, with the most specific error
code that applies and a detail that says what a valid message looks like."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from backend.core.options import option_error_code
from backend.core.sends import is_encodable
from backend.sessions.protocol import (
    MAX_DEPTH,
    MESSAGE_TYPES,
    MODES,
    RULES,
    Cancel,
    Chat,
    ErrorCode,
    Join,
    Leave,
    Ping,
    ProtocolError,
    Request,
    SendPubsub,
    SendQueue,
)

_other = TypeAdapter[Cancel | Ping | Join | Leave | Chat](
    Annotated[Cancel | Ping | Join | Leave | Chat, Field(discriminator="type")]
)
_sends: dict[str, TypeAdapter[SendQueue] | TypeAdapter[SendPubsub]] = {
    "queue": TypeAdapter(SendQueue),
    "pubsub": TypeAdapter(SendPubsub),
}
FIELD_RULES = {
    **RULES,
    "ref": "a string of at most 128 characters, or an integer",
    "text": "a string",
    "task": "a task name (a string of at most 100 characters)",
    "args": "a JSON object of the task's arguments",
    "id": "a job id (a string of at most 64 characters)",
    "mode": "queue or pubsub",
    "timeout": "seconds, more than 0 and at most 86400",
    "delay": "seconds, at least 0 and at most a year; not together with at",
    "at": "a unix time (seconds), not together with delay",
    "priority": "an integer from 0 to 9 (higher runs first)",
    "key": "an idempotency key: a string of 1 to 128 characters",
}
FIELDS = {
    "send": (
        "type",
        "mode",
        "text",
        "task",
        "args",
        "ref",
        "timeout, delay, at, priority, key (queue)",
        "topic (pubsub)",
    ),
    "cancel": ("type", "id", "ref"),
    "ping": ("type", "ref"),
    "join": ("type", "room", "name", "ref"),
    "leave": ("type", "room", "ref"),
    "chat": ("type", "room", "text", "ref"),
}


def parse_message(raw: str) -> Request:
    """Parses one text frame, raising ProtocolError with the most specific code that applies."""
    data = decode(raw)
    return validate(data, safe_ref(data.get("ref")))


def decode(raw: str) -> dict[str, Any]:
    """The frame as a JSON object, decoded once; ProtocolError (with no ref) otherwise."""
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:
        raise ProtocolError(ErrorCode.INVALID_JSON, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        detail = 'a message must be a JSON object, such as {"type": "ping"}'
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, detail)
    if raw.count("{") + raw.count("[") > MAX_DEPTH and nesting(data) > MAX_DEPTH:
        raise _too_deep()
    if "\\u" in raw and not is_encodable(data):
        detail = "the message contains an unpaired surrogate (\\ud800-\\udfff escape)"
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, detail)
    return data


def validate(data: dict[str, Any], ref: object) -> Request:
    """The decoded object as one of the protocol's messages."""
    kind = data.get("type")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, _unknown("type", kind, MESSAGE_TYPES), ref)
    mode = data.get("mode", "queue") if kind == "send" else None
    if kind == "send" and mode not in MODES:
        raise ProtocolError(ErrorCode.UNKNOWN_MODE, _unknown("mode", mode, MODES), ref)
    try:
        if kind == "send":
            return _sends[str(mode)].validate_python(data)
        return _other.validate_python(data)
    except ValidationError as exc:
        # An option on a message that takes none (a ping's `timeout`) is an unknown field.
        values = [error for error in exc.errors() if error["type"] != "extra_forbidden"]
        code = option_error_code(values) or ErrorCode.INVALID_MESSAGE
        raise ProtocolError(ErrorCode(code), describe(exc, str(kind)), ref) from None


def nesting(value: object) -> int:
    """How deeply lists and objects nest, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep() -> ProtocolError:
    detail = f"the message nests lists and objects more than {MAX_DEPTH} levels deep"
    return ProtocolError(ErrorCode.TOO_DEEP, detail)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number; send a number or null")


def _unknown(field: str, value: object, known: tuple[str, ...]) -> str:
    choices = ", ".join(known)
    if value is None:
        return f'a message needs "{field}": one of {choices}'
    return f'unknown {field} {json.dumps(value)[:40]}; "{field}" is one of {choices}'


def describe(exc: ValidationError, kind: str = "") -> str:
    """What was wrong, per field, in words a client author can act on."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        location = [str(part) for part in error["loc"] if part not in MESSAGE_TYPES]
        field = location[0] if location else "message"
        problems.setdefault(field, _problem(field, error["type"], error["msg"], kind))
    return "; ".join(f"{field}: {text}" for field, text in problems.items())


def _problem(field: str, error_type: str, message: str, kind: str) -> str:
    if error_type == "extra_forbidden":
        return f"not a field of a {kind} message (its fields: {', '.join(FIELDS[kind])})"
    if error_type == "missing":
        return f"required ({FIELD_RULES.get(field, 'see docs/protocol.md')})"
    if field in FIELD_RULES:
        return f"must be {FIELD_RULES[field]}"
    return message


def safe_ref(ref: object) -> object:
    """Echo a ref only if it is one a client could have meant (short string or integer)."""
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return None
    return ref if not isinstance(ref, str) or len(ref) <= 128 else None
