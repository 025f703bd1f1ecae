"""The job console's pure parts: filters as a query string (the form: test_job_form.py)."""

from __future__ import annotations

from backend.core.jobs import JobStatus
from frontend.jobs import Filters


def test_filters_round_trip_through_the_query_string() -> None:
    shown = Filters(JobStatus.DEAD, "fail", "boom", since=1700000000.5)
    assert shown.query(cursor="1.5|abc") == (
        "status=dead&task=fail&q=boom&since=1700000000.5&cursor=1.5%7Cabc"
    )
    assert shown.narrowed
    assert not Filters().narrowed
    assert Filters().query() == ""
