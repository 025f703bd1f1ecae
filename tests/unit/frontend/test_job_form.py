"""The console's submit form as a `send`, what the page says of an `accepted`, and how a job's
options show in its row."""

from __future__ import annotations

import time

import pytest

from backend.core.jobs import Job, JobStatus
from frontend.job_form import accepted_notice, job_options, parse_args
from frontend.templating import countdown, render_fragment


@pytest.mark.parametrize("raw", ["", "   ", "\n"])
def test_an_empty_arguments_box_means_no_arguments(raw: str) -> None:
    assert parse_args(raw) == {}


def test_arguments_are_a_json_object() -> None:
    assert parse_args(' {"seconds": 3} ') == {"seconds": 3}
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_args("{seconds: 3}")
    with pytest.raises(ValueError, match="JSON object"):
        parse_args("[3]")


def test_empty_boxes_send_no_option() -> None:
    assert job_options({"delay": "", "timeout": "  ", "key": " ", "task": "sleep"}) == {}


def test_numbers_are_sent_as_numbers_and_anything_else_as_typed() -> None:
    form = {"priority": "7", "delay": "2.5", "timeout": "soon", "key": " order-1 "}
    assert job_options(form) == {"priority": 7, "delay": 2.5, "timeout": "soon", "key": "order-1"}
    assert job_options({"delay": "nan", "timeout": "inf"}) == {"delay": "nan", "timeout": "inf"}


def test_the_notice_says_queued_delayed_or_duplicate() -> None:
    job_id = "ab" * 16
    assert accepted_notice({"id": job_id}) == f"Queued job {job_id[:12]}."
    delayed = accepted_notice({"id": job_id, "run_at": 3725.0}, now=3600.0)
    assert "it starts at 01:02:05 UTC" in delayed
    assert 'data-run-at="3725.0"' in delayed and ">in 2 min 5 s<" in delayed
    duplicate = accepted_notice({"id": job_id, "duplicate": True})
    assert duplicate == (
        f'Duplicate of <a href="/jobs/{job_id}">{job_id[:12]}</a> — nothing new runs.'
    )


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (-3, "now"),
        (0, "now"),
        (0.2, "in 1 s"),
        (59, "in 59 s"),
        (125, "in 2 min 5 s"),
        (7260, "in 2 h 1 min"),
    ],
)
def test_countdown_words(left: float, words: str) -> None:
    assert countdown(left) == words


def _job(**fields: object) -> Job:
    base = {"id": "j" * 32, "task": "sleep", "text": "t", "args": {}, "attempts": 0}
    return Job.model_validate(
        base | {"status": "queued", "max_attempts": 3, "created": 1.0} | fields
    )


def _row(job: Job) -> str:
    return render_fragment("fragments/jobs_row.html", job=job, session="", place="page")


def test_a_row_shows_priority_timeout_and_why_it_waits() -> None:
    later = time.time() + 90
    row = _row(_job(priority=8, timeout=2.5, run_at=later))
    assert '<td class="priority">8</td>' in row and "time limit 2.5 s" in row
    assert "starts at" in row and f'data-run-at="{later}"' in row
    held = _row(_job(limited_until=later))
    assert "rate limited until" in held and "starts at" not in held
    assert "time limit" not in held


def test_a_row_says_nothing_of_a_start_time_or_limit_that_has_passed() -> None:
    past = time.time() - 1
    for job in (_job(run_at=past, limited_until=past), _job(status=JobStatus.RUNNING, run_at=1e10)):
        row = _row(job)
        assert "starts at" not in row and "rate limited" not in row
