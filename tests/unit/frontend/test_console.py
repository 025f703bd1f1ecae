"""The job console's pure parts: the Arguments box, and filters as a query string."""

from __future__ import annotations

import pytest

from backend.core.jobs import JobStatus
from frontend.console import parse_args
from frontend.jobs import Filters


@pytest.mark.parametrize("raw", ["", "   ", "\n"])
def test_an_empty_arguments_box_means_no_arguments(raw: str) -> None:
    assert parse_args(raw) == {}


def test_arguments_are_a_json_object() -> None:
    assert parse_args(' {"seconds": 3} ') == {"seconds": 3}
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_args("{seconds: 3}")
    with pytest.raises(ValueError, match="JSON object"):
        parse_args("[3]")


def test_filters_round_trip_through_the_query_string() -> None:
    shown = Filters(JobStatus.DEAD, "fail", "boom", since=1700000000.5)
    assert shown.query(cursor="1.5|abc") == (
        "status=dead&task=fail&q=boom&since=1700000000.5&cursor=1.5%7Cabc"
    )
    assert shown.narrowed
    assert not Filters().narrowed
    assert Filters().query() == ""
