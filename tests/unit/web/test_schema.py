"""The OpenAPI schema as this app's settings and tasks make it (schema.py)."""

from __future__ import annotations

from typing import Any

from backend.app import create_app
from backend.settings import Settings

ADMIN_ONLY = {("post", "/api/dead/retry"), ("post", "/api/consumers/{consumer_id}/{action}")}


def schema(**settings: Any) -> dict[str, Any]:
    return create_app(Settings(**settings)).openapi()


def test_a_job_request_names_a_task_of_the_registry_with_its_own_args() -> None:
    request = schema(tasks="tests.sample.custom_tasks")["components"]["schemas"]["JobRequest"]
    assert {"uppercase", "fib", "shout"} <= set(request["properties"]["task"]["enum"])
    branches = {b["properties"]["task"]["const"]: b for b in request["oneOf"]}
    assert branches["fib"]["properties"]["args"]["properties"]["n"]["maximum"] == 35
    assert branches["fib"]["required"] == ["task"]
    assert "required" not in branches["uppercase"], "uppercase is the default task"
    assert request["properties"]["text"]["maxLength"] == 16 * 1024


def test_a_token_is_optional_only_where_this_app_asks_for_none() -> None:
    def optional(spec: dict[str, Any]) -> set[tuple[str, str]]:
        return {
            (method, path)
            for path, operations in spec["paths"].items()
            for method, operation in operations.items()
            if {} in operation.get("security", [])
        }

    open_app = optional(schema())
    assert ("get", "/api/jobs") in open_app and open_app >= ADMIN_ONLY
    admin_set = optional(schema(admin_token="an-admin-token"))
    assert ("get", "/api/jobs") in admin_set and not ADMIN_ONLY & admin_set
    assert optional(schema(api_tokens=["an-api-token-0123456"])) == set()


def test_every_api_operation_documents_401_and_the_error_shape() -> None:
    for path, operations in schema()["paths"].items():
        for operation in operations.values():
            if path.startswith("/api/"):
                assert "401" in operation["responses"], path
                challenge = operation["responses"]["401"]["headers"]
                assert "WWW-Authenticate" in challenge
