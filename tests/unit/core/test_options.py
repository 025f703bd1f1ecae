"""Job options, rate limits and cron schedules as written by users: what is accepted, what is
refused, and with which code."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.core.keys import Keys
from backend.core.options import JobOptions, option_error_code
from backend.core.rates import Rate, parse_rate, rate_args, task_rates
from backend.core.schedules import Schedules, ScheduleSpec, fixed_schedules, next_run


def code_of(**fields: object) -> str | None:
    with pytest.raises(ValidationError) as caught:
        JobOptions.model_validate(fields)
    return option_error_code(caught.value.errors())


def test_each_bad_option_has_its_own_code() -> None:
    assert code_of(delay=-1) == "invalid_delay"
    assert code_of(priority=12) == "invalid_priority"
    assert code_of(timeout=0) == "invalid_timeout"
    assert code_of(key="") == "invalid_key"
    assert code_of(at=-5) == "invalid_at"
    assert code_of(delay=1, at=2) == "delay_and_at"


def test_a_start_time_is_delay_from_now_or_at_and_now_when_past() -> None:
    assert JobOptions(delay=10).run_at(now=100.0) == 110.0
    assert JobOptions(at=150.0).run_at(now=100.0) == 150.0
    assert JobOptions(at=50.0).run_at(now=100.0) is None, "a past time means now"
    assert JobOptions(delay=0).run_at(now=100.0) is None
    assert JobOptions().run_at() is None


READ_AS = [
    ("100/s", Rate(100, 1.0)),
    ("30/m", Rate(30, 60.0)),
    ("10/5s", Rate(10, 5.0)),
    ("1000 / hour", Rate(1000, 3600.0)),
    ("2/d", Rate(2, 86400.0)),
]


@pytest.mark.parametrize(("text", "rate"), READ_AS)
def test_rates_are_read_as_written(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["100", "100/x", "0/s", "-1/s", "s/100", "10/0s", ""])
def test_a_bad_rate_says_what_a_good_one_looks_like(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_the_setting_wins_over_the_task_and_tasks_without_a_rate_are_free() -> None:
    rates = task_rates({"a": "5/s", "b": None, "c": "1/m"}, {"c": "2/s"})
    assert rates == {"a": Rate(5, 1.0), "c": Rate(2, 1.0)}
    assert rate_args(rates) == ["a", 5, 1.0, "c", 2, 1.0]


def test_next_run_follows_the_cron_expression_in_utc() -> None:
    assert next_run("*/5 * * * *", 0.0) == 300.0
    assert next_run("0 1 * * *", 0.0) == 3600.0
    assert next_run("* * * * * */2", 1.0) == 2.0, "six fields: seconds last"


def test_a_bad_cron_expression_is_refused_with_its_code() -> None:
    with pytest.raises(ValidationError) as caught:
        ScheduleSpec(name="x", cron="61 * * * *", task="uppercase")
    assert option_error_code(caught.value.errors()) == "invalid_cron"


def test_due_ticks_are_those_since_the_last_look_within_the_grace_period() -> None:
    spec = ScheduleSpec(name="every-10s", cron="* * * * * */10", task="uppercase")
    schedules = Schedules(None, Keys("t:"), [(spec, "settings")])  # type: ignore[arg-type]
    schedules.checked = 1000.0
    assert schedules.due([(spec, "settings")], 1025.0) == [
        ("every-10s", 1010.0),
        ("every-10s", 1020.0),
    ]
    schedules.checked = 0.0  # every process was down: only the last 30 s are caught up
    assert [t for _, t in schedules.due([(spec, "settings")], 1025.0)] == [1000.0, 1010.0, 1020.0]


def test_a_task_with_cron_is_a_schedule_unless_the_settings_name_one_like_it() -> None:
    configured = [ScheduleSpec(name="digest", cron="0 * * * *", task="uppercase")]
    fixed = fixed_schedules(configured, {"digest": "*/5 * * * *", "report": "0 9 * * *"})
    assert [(spec.name, spec.cron, source) for spec, source in fixed] == [
        ("digest", "0 * * * *", "settings"),
        ("report", "0 9 * * *", "task"),
    ]
