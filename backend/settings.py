"""Courier's settings: one class, read from `COURIER_*` environment variables and `.env`.

Settings are built once at each entry point and passed down, never read at import time, so tests
and embedding programs can hand in their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.core.rates import parse_rate
from backend.core.schedules import ScheduleSpec
from backend.tokens import check_tokens, read_token_file, split_tokens

ENV_PREFIX = "COURIER_"
REDIS_SCHEMES = ("redis", "rediss", "unix")

LogLevel = Literal["critical", "error", "warning", "info", "debug"]


class SettingsError(Exception):
    """A setting has a wrong value; the message is one line that names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    redis_url: str | None = Field(
        default=None,
        description="Redis to use (redis://, rediss:// or unix://). Unset: `courier run` "
        "starts an embedded redis-server.",
    )
    redis_cluster: bool = Field(
        default=False,
        description="COURIER_REDIS_URL names one node of a Redis Cluster; every role then runs on "
        "the cluster, with sharded pub/sub.",
    )
    redis_wait_replicas: int = Field(
        default=0,
        ge=0,
        le=5,
        description="A job is `accepted` only once this many replicas have it (Redis WAIT), so a "
        "failover cannot lose it. 0: do not wait.",
    )
    redis_wait_timeout: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds to wait for those replicas. A job not on enough of them in time is "
        "still `accepted` (the primary has it, and it runs) and a warning is logged.",
    )
    host: str = Field(
        default="127.0.0.1", min_length=1, description="Address the web server binds."
    )
    port: int = Field(default=8000, ge=0, le=65535, description="Port the web server binds.")
    key_prefix: str = Field(
        default="courier:",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:{}-]+$",
        description="Prefix of every Redis key and channel Courier uses.",
    )
    log_level: LogLevel = Field(default="info", description="Log level of every process.")
    data_dir: Path = Field(
        default=Path(".courier"), description="Where the embedded Redis keeps its data."
    )
    heartbeat_interval: float = Field(
        default=1.0, gt=0, le=60, description="Seconds between consumer heartbeats."
    )
    heartbeat_timeout: float = Field(
        default=5.0, gt=0, le=600, description="A consumer silent this long is shown as gone."
    )
    tasks: str | None = Field(
        default=None,
        description="Module to import for user tasks (e.g. `myapp.tasks`), besides the built-ins.",
    )
    worker_concurrency: int = Field(
        default=16, ge=1, le=1024, description="Jobs one worker runs at once."
    )
    job_timeout: float = Field(
        default=300, gt=0, le=86400, description="Seconds one attempt may run, by default."
    )
    visibility_timeout: float = Field(
        default=30.0,
        gt=0,
        le=86400,
        description="A job held this long by a worker that stopped beating is given to another.",
    )
    max_attempts: int = Field(default=3, ge=1, le=100, description="Attempts before dead-letter.")
    retry_backoff: float = Field(
        default=1.0, ge=0, le=3600, description="Delay before the first retry; doubles each time."
    )
    retry_backoff_max: float = Field(default=300.0, ge=0, le=86400, description="Longest delay.")
    job_retention: int = Field(
        default=86400, ge=60, description="Seconds a job's state and result are kept in Redis."
    )
    shutdown_grace: float = Field(
        default=10.0, ge=0, le=3600, description="Seconds a stopping worker gives its jobs."
    )
    max_text_bytes: int = Field(
        default=16 * 1024, ge=1, le=1024 * 1024, description="Longest `text` of one message."
    )
    session_ttl: int = Field(
        default=900, ge=600, description="Seconds a WebSocket session's events are kept for resume."
    )
    session_log_max: int = Field(
        default=10_000, ge=100, description="Most events kept per session for resume."
    )
    outbox_max: int = Field(
        default=10_000, ge=10, le=1_000_000, description="Unread events before a socket is closed."
    )
    send_buffer_bytes: int | None = Field(
        default=None, ge=4096, le=64 * 1024 * 1024, description="SO_SNDBUF of each WebSocket."
    )
    rate_limit: float = Field(
        default=1000.0,
        gt=0,
        description="Messages per second one WebSocket, and requests per second one API token "
        "(or, without a valid token, one client address), may send (burst: 1 s).",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest REST request body; a larger one gets 413 before it is read.",
    )
    outcome_wait: float = Field(
        default=30.0, gt=0, le=600, description="Longest wait to learn if a dropped write ran."
    )
    chat_rate_limit: float = Field(
        default=5.0, gt=0, description="Chat messages per second one connection may send."
    )
    chat_burst: int = Field(default=10, ge=1, description="Chat messages allowed in a burst.")
    chat_max_chars: int = Field(
        default=2000, ge=1, le=100_000, description="Longest chat message, in characters."
    )
    presence_timeout: float = Field(
        default=20.0, ge=1, le=300, description="Seconds until a member not refreshed is dropped."
    )
    schedules: list[ScheduleSpec] = Field(
        default_factory=list,
        description='Cron schedules as JSON: [{"name": "digest", "cron": "*/5 * * * *", '
        '"task": "uppercase", "text": "hi"}] (also: args, priority, timeout).',
    )
    task_rates: dict[str, str] = Field(
        default_factory=dict,
        description='Rate limits per task across all workers, as JSON: {"uppercase": "100/s"}; '
        "they take the place of a task's own `@task(rate=...)`.",
    )
    admin_token: str | None = Field(
        default=None,
        min_length=8,
        description="Token that pause/resume controls require; unset leaves them open.",
    )
    api_tokens: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Bearer tokens /api/* requires (comma-separated, or a JSON list); none: open.",
    )
    api_tokens_file: Path | None = Field(
        default=None, description="A file of API tokens, one a line (# comments), added to those."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Extra browser origins allowed to open WebSockets (same origin always is).",
    )

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return check_redis_url(value)

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _split_api_tokens(cls, value: object) -> object:
        return split_tokens(value)

    @field_validator("api_tokens")
    @classmethod
    def _check_api_tokens(cls, value: list[str]) -> list[str]:
        return check_tokens(value)

    @field_validator("api_tokens_file")
    @classmethod
    def _check_api_tokens_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            read_token_file(value)
        return value

    @model_validator(mode="after")
    def _add_file_tokens(self) -> Settings:
        if self.api_tokens_file is not None:
            added = read_token_file(self.api_tokens_file)
            self.api_tokens = list(dict.fromkeys([*self.api_tokens, *added]))
        return self

    @field_validator("task_rates")
    @classmethod
    def _check_task_rates(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            parse_rate(text)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


def check_redis_url(value: str) -> str:
    """The URL itself, or ValueError naming the schemes Courier speaks."""
    if urlsplit(value).scheme not in REDIS_SCHEMES:
        allowed = ", ".join(f"{scheme}://" for scheme in REDIS_SCHEMES)
        raise ValueError(f"must start with {allowed} (got {value!r})")
    return value


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning validation errors into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        variable = ENV_PREFIX + field.upper()
        message = error["msg"].removeprefix("Value error, ")
        got = error.get("input")
        shown = f" (got {got!r})" if not isinstance(got, dict) and "got " not in message else ""
        problems.append(f"{variable}: {message}{shown}")
    return "invalid setting " + "; ".join(problems)
