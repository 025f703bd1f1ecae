from backend.sessions.ratelimit import TokenBucket


def test_allows_a_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3, updated=0.0)
    assert [bucket.allow(now=0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == 0.5
    assert bucket.allow(now=0.5)
    assert not bucket.allow(now=0.5)
    assert [bucket.allow(now=10.0) for _ in range(4)] == [True, True, True, False]
