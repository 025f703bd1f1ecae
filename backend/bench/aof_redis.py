"""A bench's own redis-server with an append-only file and a chosen fsync policy.

What `accepted` survives depends on when Redis writes the job to disk, and that costs time on
every write: `courier bench queue --appendfsync ...` measures the cost, `courier bench faults`
runs on `always` to show that a crash then loses no accepted job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend.procs.redis_server import RedisServer

FSYNC_POLICIES = ("always", "everysec", "no")  # Redis's own names for `appendfsync`


@dataclass
class AofRedis(RedisServer):
    """A RedisServer with AOF on and `appendfsync` set to `policy` (no RDB snapshots, as the
    embedded one: the AOF alone is what a restart reads back)."""

    policy: str = "everysec"

    def command(self) -> list[str]:
        argv = super().command()
        argv[argv.index("--appendonly") + 1] = "yes"
        argv[argv.index("--appendfsync") + 1] = self.policy
        return argv


def own_redis(directory: Path, appendfsync: str | None) -> RedisServer:
    """Without a policy, the bench's usual Redis: no persistence, nothing written to disk."""
    if appendfsync is None:
        return RedisServer(data_dir=directory, persistent=False)
    if appendfsync not in FSYNC_POLICIES:
        raise ValueError(f"appendfsync: one of {', '.join(FSYNC_POLICIES)}, not {appendfsync!r}")
    return AofRedis(data_dir=directory, persistent=True, policy=appendfsync)
