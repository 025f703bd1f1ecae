"""The REST rate limiter's buckets (limits.py): bounded however many clients come and go."""

from __future__ import annotations

import pytest

from backend.settings import Settings
from backend.web import limits
from backend.web.limits import RateLimit


async def no_app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("not called")


def limiter(rate: float) -> RateLimit:
    return RateLimit(no_app, Settings(rate_limit=rate))


def test_a_bucket_idle_long_enough_to_be_full_again_is_dropped() -> None:
    buckets = limiter(10)
    for n in range(100):
        assert buckets.bucket(f"address:10.0.0.{n}", 0.0).allow(0.0)
    assert len(buckets.buckets) == 100
    buckets.bucket("address:10.0.1.1", 0.5)
    assert len(buckets.buckets) == 101, "half a second: not full yet"
    buckets.bucket("address:10.0.1.2", 1.0)
    assert list(buckets.buckets) == ["address:10.0.1.1", "address:10.0.1.2"]


def test_a_spent_bucket_is_kept_while_it_is_used() -> None:
    buckets = limiter(2)
    spent = buckets.bucket("token:a", 0.0)
    assert spent.allow(0.0) and spent.allow(0.0) and not spent.allow(0.0)
    for step in range(1, 10):
        now = step * 0.4
        assert buckets.bucket("token:a", now) is spent
        spent.allow(now)
        buckets.bucket(f"address:{step}", now)
    assert "token:a" in buckets.buckets


def test_a_slow_rate_refills_over_more_than_a_second() -> None:
    buckets = limiter(0.5)  # one request every 2 s, a burst of one
    assert buckets.bucket("a", 0.0).allow(0.0)
    buckets.bucket("b", 1.5)
    assert "a" in buckets.buckets
    buckets.bucket("b", 2.0)
    assert "a" not in buckets.buckets


def test_at_most_max_buckets_the_least_recently_used_go_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MAX_BUCKETS", 50)
    buckets = limiter(1000)
    for n in range(120):
        buckets.bucket(f"address:{n}", n * 0.001)
    assert list(buckets.buckets) == [f"address:{n}" for n in range(70, 120)]
