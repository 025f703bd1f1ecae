"""Every Redis key and channel name Courier uses, built in one place from the configured prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    def consumers(self, kind: str) -> str:
        """Sorted set of consumer ids of one kind, scored by their last heartbeat (unix time)."""
        return f"{self.prefix}consumers:{kind}"

    def consumer(self, consumer_id: str) -> str:
        """Hash describing one consumer process (kind, host, pid, state, counters)."""
        return f"{self.prefix}consumer:{consumer_id}"
