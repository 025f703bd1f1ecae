"""The dashboard's numbers read as people write them, and its charts have a time axis."""

from __future__ import annotations

import pytest

from frontend.charts import WINDOW, Series, chart, nice_ceiling, number, quantity


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (3, "3"),
        (3.0, "3"),
        (1234, "1,234"),
        (12.5, "12.5"),
        (12.34, "12.3"),
        (7.125, "7.13"),
        (0.5, "0.5"),
        (1 / 3, "0.333"),
        (0.0123, "0.0123"),
        (999.6, "1,000"),
        (1234.56, "1,235"),
        (2_500_000.0, "2,500,000"),
        (1e-12, "0"),
    ],
)
def test_number_has_three_significant_digits_and_no_exponent(value: float, text: str) -> None:
    assert number(value) == text


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (7130.0, "ms", "7.13 s"),
        (7134.2, "ms", "7.13 s"),
        (999.4, "ms", "999 ms"),
        (999.6, "ms", "1 s"),
        (61_000.0, "ms", "61 s"),
        (12.34, "ms", "12.3 ms"),
        (0.5, "ms", "0.5 ms"),
        (0.0, "ms", "0 ms"),
        (12.0, "jobs", "12 jobs"),
        (1.0, "jobs", "1 job"),
        (1250.0, "jobs", "1,250 jobs"),
        (5.0, "jobs/s", "5 jobs/s"),
        (1.0, "jobs/s", "1 job/s"),
        (0.5, "jobs/s", "0.5 jobs/s"),
        (14.66667, "jobs/s", "14.7 jobs/s"),
        (1234.5, "jobs/s", "1,235 jobs/s"),
    ],
)
def test_quantity_is_written_for_people(value: float, unit: str, text: str) -> None:
    assert quantity(value, unit) == text


@pytest.mark.parametrize(
    ("peak", "top"),
    [(0.0, 1.0), (0.3, 0.3), (0.7, 0.8), (1.0, 1.0), (7130.0, 8000.0), (11.0, 15.0), (26, 30)],
)
def test_the_value_axis_ends_on_a_round_number(peak: float, top: float) -> None:
    assert nice_ceiling(peak) == pytest.approx(top)


def test_the_latest_value_and_the_scale_are_formatted() -> None:
    now = 1_000_000.0
    latency = chart(
        "Latency", "ms", [Series("p50", [5.0, 7130.0, None], "s1")], [now - 4, now - 2, now], now
    )
    assert latency.latest(latency.series[0]) == "7.13 s"
    assert latency.scale == "8 s"
    empty = chart("Queue", "jobs", [Series("waiting", [], "s1")], [], now)
    assert empty.latest(empty.series[0]) == "none yet"
    assert empty.scale == "1 job"


def test_the_time_axis_runs_from_five_minutes_ago_to_now() -> None:
    now = 1_000_000.0
    c = chart("Queue", "jobs", [Series("waiting", [1.0, 2.0], "s1")], [now - WINDOW, now], now)
    assert [t.label for t in c.ticks] == ["-5 min", "-4 min", "-3 min", "-2 min", "-1 min", "now"]
    lefts = [t.left for t in c.ticks]
    assert lefts == sorted(lefts)
    assert lefts[0] == pytest.approx(0, abs=1)
    assert lefts[-1] == pytest.approx(100, abs=1)


def test_points_are_placed_by_their_time_not_their_index() -> None:
    now = 1_000_000.0
    series = Series("waiting", [2.0, 2.0, None, 2.0], "s1")
    times = [now - 2 * WINDOW, now - WINDOW / 2, now - 4, now]
    c = chart("Queue", "jobs", [series], times, now)
    xs = [float(point.split(",")[0]) for point in c.points(series).split()]
    assert len(xs) == 2, "a sample older than the window and a gap are not drawn"
    assert xs[0] == pytest.approx(c.width / 2, abs=1)
    assert xs[1] == pytest.approx(c.width, abs=5)
