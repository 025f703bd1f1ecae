from __future__ import annotations

import pytest
from pydantic import BaseModel

from backend.core.tasks import ArgsError, TaskRegistry, load_tasks


def test_built_ins_are_registered() -> None:
    names = load_tasks(None).names()
    assert {"uppercase", "reverse", "wordcount", "sleep", "fib", "flaky", "fail"} <= set(names)
    fib = load_tasks(None).get("fib")
    assert fib is not None
    assert fib.cpu
    assert fib.run_sync is not None


def test_args_are_validated_with_a_clear_message() -> None:
    sleep = load_tasks(None).get("sleep")
    assert sleep is not None
    with pytest.raises(ArgsError, match=r"bad args for task 'sleep': seconds: Input should be"):
        sleep.parse_args({"seconds": "long"})
    with pytest.raises(ArgsError, match="surprise: Extra inputs are not permitted"):
        sleep.parse_args({"surprise": 1})


def test_duplicate_names_are_refused() -> None:
    registry = TaskRegistry()

    @registry.task()
    def echo(text: str, args: BaseModel) -> str:
        return text

    with pytest.raises(ValueError, match="already registered"):
        registry.task("echo")(echo)


def test_missing_user_module_names_the_setting() -> None:
    with pytest.raises(ImportError, match=r"COURIER_TASKS='no\.such\.module'"):
        load_tasks("no.such.module")


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_a_time_limit_must_be_positive_seconds(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be a number of seconds > 0"):
        TaskRegistry().task(timeout=timeout)


def test_time_limit_rate_and_schedule_are_kept_as_given() -> None:
    registry = TaskRegistry()

    @registry.task(timeout=2.5, rate="10/s", cron="*/5 * * * *")
    def tick(text: str, args: BaseModel) -> str:
        return text

    registered = registry.get("tick")
    assert registered is not None
    assert (registered.timeout, registered.rate, registered.cron) == (2.5, "10/s", "*/5 * * * *")
    uppercase = load_tasks(None).get("uppercase")
    assert uppercase is not None and uppercase.timeout is None


def test_a_bad_rate_or_cron_stops_the_registration() -> None:
    registry = TaskRegistry()
    with pytest.raises(ValueError, match="is not <count>/<unit>"):
        registry.task("limited", rate="5 per second")
    with pytest.raises(ValueError, match="is not a cron expression"):
        registry.task("nightly", cron="0 25 * * *")
    registry.task("fine", rate="5/s", cron="0 3 * * *")(lambda text, args: text)
    task = registry.get("fine")
    assert task is not None and (task.rate, task.cron) == ("5/s", "0 3 * * *")
