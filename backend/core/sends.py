"""What makes a send valid, for the WebSocket protocol and the REST API alike: a known task,
arguments that fit it, and text within the size limit."""

from __future__ import annotations

import json
from typing import Any

from backend.core.rejected import Rejected
from backend.core.tasks import ArgsError, TaskRegistry
from backend.settings import Settings


def check_send(
    registry: TaskRegistry, settings: Settings, task: str, text: str, args: dict[str, Any]
) -> None:
    """Raises Rejected (unknown_task, invalid_args or text_too_long) for a send to refuse."""
    found = registry.get(task)
    if found is None:
        known = ", ".join(registry.names())
        raise Rejected("unknown_task", f"unknown task {task!r}; known tasks: {known}")
    try:
        found.parse_args(args)
    except ArgsError as exc:
        raise Rejected("invalid_args", str(exc)) from None
    size = len(text.encode())
    if size > settings.max_text_bytes:
        detail = f"text is {size} bytes; the limit is {settings.max_text_bytes}"
        raise Rejected("text_too_long", detail)


def is_encodable(value: object) -> bool:
    """JSON escapes can produce strings that are not valid Unicode (lone surrogates), which
    nothing downstream can store or send."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True
