"""When a worker looks for a stopped worker's entries, and how soon it renews its own."""

from __future__ import annotations

import time

from backend.procs.pacing import KEEP_ALIVE_RETRY, TakeOverPacing


def test_a_look_at_most_once_per_interval() -> None:
    pacing = TakeOverPacing(visibility_timeout=3.0)
    assert pacing.claim_interval == 0.3
    assert pacing.claim_now(), "a fresh worker looks at once"
    assert not pacing.claim_now()
    pacing.claim_at = time.monotonic()
    assert pacing.claim_now()


def test_the_interval_is_at_most_a_second() -> None:
    assert TakeOverPacing(visibility_timeout=30.0).claim_interval == 1.0


def test_no_look_for_a_renewal_interval_after_a_redis_error() -> None:
    pacing = TakeOverPacing(visibility_timeout=30.0)
    pacing.met_error()
    assert not pacing.claim_now()
    assert pacing.claim_at >= time.monotonic() + 9.0


def test_a_failing_renewal_is_retried_soon() -> None:
    pacing = TakeOverPacing(visibility_timeout=30.0)
    assert pacing.until_keep_alive() == 10.0
    pacing.kept_alive(False)
    assert pacing.until_keep_alive() == KEEP_ALIVE_RETRY
    assert not pacing.claim_now()
    pacing.kept_alive(True)
    assert pacing.until_keep_alive() == 10.0


def test_a_look_that_filled_every_slot_is_made_again_at_the_next_take() -> None:
    pacing = TakeOverPacing(visibility_timeout=30.0)
    assert pacing.claim_now()
    assert not pacing.claim_now()
    pacing.look_again()
    assert pacing.claim_now()
