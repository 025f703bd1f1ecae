from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("COURIER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    settings = load_settings()
    assert settings.redis_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.key_prefix == "courier:"
    assert settings.log_level == "info"
    assert settings.job_timeout == 300


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURIER_REDIS_URL", "unix:///tmp/redis.sock")
    monkeypatch.setenv("COURIER_PORT", "9000")
    monkeypatch.setenv("COURIER_KEY_PREFIX", "team-a:")
    monkeypatch.setenv("COURIER_LOG_LEVEL", "DEBUG")
    settings = load_settings()
    assert settings.redis_url == "unix:///tmp/redis.sock"
    assert settings.port == 9000
    assert settings.key_prefix == "team-a:"
    assert settings.log_level == "debug"


def test_reads_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("COURIER_PORT=8123\n")
    assert load_settings().port == 8123


@pytest.mark.parametrize("url", ["redis://h:6379/0", "rediss://h:6380/1", "unix:///run/r.sock"])
def test_accepts_redis_url_schemes(url: str) -> None:
    assert Settings(redis_url=url).redis_url == url


def test_empty_redis_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURIER_REDIS_URL", "")
    assert load_settings().redis_url is None


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("COURIER_PORT", "eighty", "COURIER_PORT: Input should be a valid integer"),
        ("COURIER_PORT", "70000", "COURIER_PORT: Input should be less than or equal to 65535"),
        ("COURIER_REDIS_URL", "http://x", "COURIER_REDIS_URL: must start with redis://"),
        ("COURIER_LOG_LEVEL", "loud", "COURIER_LOG_LEVEL: Input should be 'critical'"),
        ("COURIER_KEY_PREFIX", "has space", "COURIER_KEY_PREFIX: String should match pattern"),
        ("COURIER_HEARTBEAT_INTERVAL", "0", "COURIER_HEARTBEAT_INTERVAL: Input should be greater"),
        ("COURIER_JOB_TIMEOUT", "0", "COURIER_JOB_TIMEOUT: Input should be greater than 0"),
        ("COURIER_JOB_TIMEOUT", "86401", "COURIER_JOB_TIMEOUT: Input should be less than"),
    ],
)
def test_wrong_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("invalid setting ")
    assert expected in message
    assert repr(value) in message


def test_api_tokens_comma_separated_or_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURIER_API_TOKENS", " first-token-0123456 ,second-token-0123456,")
    assert load_settings().api_tokens == ["first-token-0123456", "second-token-0123456"]
    monkeypatch.setenv("COURIER_API_TOKENS", '["first-token-0123456"]')
    assert load_settings().api_tokens == ["first-token-0123456"]
    monkeypatch.setenv("COURIER_API_TOKENS", "")
    assert load_settings().api_tokens == []


def test_api_tokens_file_adds_one_token_a_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# ops\nfile-token-0123456789  # ci\n\nfirst-token-0123456\n")
    monkeypatch.setenv("COURIER_API_TOKENS", "first-token-0123456")
    monkeypatch.setenv("COURIER_API_TOKENS_FILE", str(tokens))
    assert load_settings().api_tokens == ["first-token-0123456", "file-token-0123456789"]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("COURIER_API_TOKENS", "short", "COURIER_API_TOKENS: token 1 of 1 is not at least 16"),
        ("COURIER_API_TOKENS", "[not json", "COURIER_API_TOKENS: not a JSON list"),
        ("COURIER_API_TOKENS_FILE", "/no/such/file", "COURIER_API_TOKENS_FILE: cannot read it"),
    ],
)
def test_bad_api_tokens_are_named_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert str(error.value).startswith(f"invalid setting {expected}")
    if variable == "COURIER_API_TOKENS":
        assert value not in str(error.value)
