"""The OpenAPI schema, made exact where FastAPI alone cannot, so that a request the schema calls
valid is accepted and one it calls invalid is refused (a schema fuzzer checks both ways).

What FastAPI does not know, because it depends on how this app was built:

- in a request body with `task` and `args` (a job, a schedule), `task` is one of the tasks of
  this app's registry (built-ins and COURIER_TASKS), and `args` fits that task's own argument
  model: one `oneOf` branch per task;
- `text` is at most COURIER_MAX_TEXT_BYTES long (the limit is in UTF-8 bytes: `maxLength`, in
  characters, is exact for ASCII, and a longer text in bytes is still a 422 `text_too_long`);
- `delay` and `at` are never both numbers (a model validator, invisible to the schema);
- a body over COURIER_MAX_BODY_BYTES is 413 and a client over COURIER_RATE_LIMIT on /api/* is
  429, both answered in front of the routes (`limits.py`), where FastAPI does not see them;
- a token is optional (an empty security requirement) where this app does not ask for one: no
  COURIER_API_TOKENS and, for admin-only operations (marked `x-admin-only`), no
  COURIER_ADMIN_TOKEN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from backend.core.tasks import Task, TaskRegistry
from backend.settings import Settings
from backend.web.admin import require_admin
from backend.web.limits import is_rate_limited

Schema = dict[str, Any]
REF_TEMPLATE = "#/components/schemas/{model}"
START_TIMES = ("delay", "at")


def install_exact_schema(app: FastAPI, settings: Settings, registry: TaskRegistry) -> None:
    """Wraps `app.openapi`, which builds the schema once and keeps it."""
    generate: Callable[[], Schema] = app.openapi

    def openapi() -> Schema:
        fresh = app.openapi_schema is None
        schema = generate()
        if fresh:
            for body in schema["components"]["schemas"].values():
                describe_body(body, schema["components"]["schemas"], settings, registry)
            describe_security(schema, settings, admin_operations(app))
            describe_limits(schema, settings)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe_body(
    body: Schema, components: Schema, settings: Settings, tasks: TaskRegistry
) -> None:
    fields = body.get("properties", {})
    if "text" in fields and "task" in fields:
        fields["text"]["maxLength"] = settings.max_text_bytes
    if "task" in fields and "args" in fields:
        fields["task"]["enum"] = tasks.names()
        default = fields["task"].get("default")
        body["oneOf"] = [_task_branch(task, default, components) for task in tasks.all()]
    if all(name in fields for name in START_TIMES):
        numbers = {name: {"type": "number"} for name in START_TIMES}
        body["not"] = {"properties": numbers, "required": list(START_TIMES)}


def _task_branch(task: Task, default: str | None, components: Schema) -> Schema:
    """The request as it is for one task: its name, and its own `args`."""
    args = task.args.model_json_schema(ref_template=REF_TEMPLATE)
    components.update(args.pop("$defs", {}))
    required = [] if task.name == default else ["task"]
    if args.get("required"):
        required.append("args")
    branch: Schema = {"properties": {"task": {"const": task.name}, "args": args}}
    if required:
        branch["required"] = required
    return branch


def admin_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every route that goes through the admin check."""
    found = set()
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if isinstance(dependant, Dependant) and _calls(dependant, require_admin):
            found |= {(str(route.path_format), method.lower()) for method in route.methods or ()}
    return found


def _calls(dependant: Dependant, check: Callable[..., Any]) -> bool:
    return dependant.call is check or any(_calls(d, check) for d in dependant.dependencies)


def describe_security(schema: Schema, settings: Settings, admin: set[tuple[str, str]]) -> None:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "security" not in operation:
                continue
            admin_only = (path, method) in admin
            if admin_only:
                operation["x-admin-only"] = True
            needed = bool(settings.api_tokens) or (admin_only and settings.admin_token is not None)
            if not needed:
                operation["security"].append({})


def describe_limits(schema: Schema, settings: Settings) -> None:
    content = {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="ErrorBody")}}}
    too_large = {
        "description": f"The body is over {settings.max_body_bytes} bytes "
        "(COURIER_MAX_BODY_BYTES): `body_too_large`",
        "content": content,
    }
    retry_after = {
        "description": "Whole seconds until a request would be taken again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
    rate_limited = {
        "description": f"Over {settings.rate_limit:g} requests/s for this token or address "
        "(COURIER_RATE_LIMIT): `rate_limited`",
        "headers": {"Retry-After": retry_after},
        "content": content,
    }
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            if "requestBody" in operation:
                responses["413"] = too_large
            if is_rate_limited(path):
                responses["429"] = rate_limited
            operation["responses"] = dict(sorted(responses.items()))
