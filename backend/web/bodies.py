"""JSON request bodies taken as JSON means them, so that what the OpenAPI schema refuses is
refused here too: a number field takes numbers only (pydantic's lax mode would turn `"5"` and
`true` into 5 and 1), a boolean field booleans only, and 9.0 is the integer 9 (JSON and JSON
Schema do not tell the two apart, while pydantic's strict mode would)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from backend.core.rejected import Rejected
from backend.core.tasks import Task, describe_args_error


def json_numbers(value: Any) -> Any:
    """`value` with every whole float, at any depth, made an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_numbers(item) for item in value]
    return value


class JsonBody(BaseModel):
    """A request body model: strict types, whole floats as ints."""

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers(cls, data: Any) -> Any:
        return json_numbers(data)


def check_args_types(task: Task, args: dict[str, Any]) -> None:
    """Raises Rejected (invalid_args) for arguments that fit the task only by lax conversion.
    Read back as JSON, since strict JSON still takes a string for a date or an enum; the
    arguments are then stored as sent, and the worker parses them as ever."""
    try:
        task.args.model_validate_json(json.dumps(json_numbers(args)), strict=True)
    except ValidationError as exc:
        raise Rejected("invalid_args", describe_args_error(task.name, exc)) from None
