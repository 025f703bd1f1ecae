"""When a worker looks for entries a stopped worker left pending, and how often it renews its
own, so that it claims a dead worker's jobs soon and never a live worker's.

A live worker renews its entries every third of the visibility timeout; an entry idle for the
whole timeout therefore belongs to a worker that stopped. A Redis outage breaks that reading:
Redis keeps each entry's last delivery time, so after a restart every entry looks idle for as
long as Redis was away. So while renewing fails it is retried every `KEEP_ALIVE_RETRY`, and a
worker that met a Redis error claims nothing for one renewal interval, by which time the live
workers have renewed theirs.
"""

from __future__ import annotations

import time

KEEP_ALIVE_RETRY = 0.2  # seconds between renewals while they fail
CLAIM_INTERVAL_MAX = 1.0  # seconds: the longest a free slot waits for the next look


class TakeOverPacing:
    def __init__(self, visibility_timeout: float) -> None:
        self.keep_alive_interval = visibility_timeout / 3
        # A look is one XAUTOCLAIM walk: cheap, but not worth making for every take under load.
        self.claim_interval = min(visibility_timeout / 10, CLAIM_INTERVAL_MAX)
        self.claim_at = 0.0  # monotonic: no look before this
        self.keep_alive_failing = False

    def claim_now(self) -> bool:
        """Whether this take should look for stopped workers' entries (then not again for a
        claim interval)."""
        now = time.monotonic()
        if now < self.claim_at:
            return False
        self.claim_at = now + self.claim_interval
        return True

    def look_again(self) -> None:
        """The last look found more than it could take: the next take looks too."""
        self.claim_at = 0.0

    def met_error(self) -> None:
        """Redis failed a call: no look until the live workers have had time to renew."""
        self.claim_at = max(self.claim_at, time.monotonic() + self.keep_alive_interval)

    def kept_alive(self, ok: bool) -> None:
        self.keep_alive_failing = not ok
        if not ok:
            self.met_error()

    def until_keep_alive(self) -> float:
        if self.keep_alive_failing:
            return min(KEEP_ALIVE_RETRY, self.keep_alive_interval)
        return self.keep_alive_interval
