"""The batch packer encodes exactly as redis-py does, so Redis reads the same commands."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection

from backend.core.resp import pack

COMMANDS = [
    ["EVALSHA", "a" * 40, 2, "k1", "k2", "héllo ✓", 0, -7, 1.5, 1e-07, 12345678901234567890],
    ["PUBLISH", "chan", ""],
    ["SET", b"raw\x00bytes", 3.0],
]


def test_pack_matches_redis_py() -> None:
    expected = b"".join(b"".join(Connection().pack_command(*c)) for c in COMMANDS)
    assert pack(COMMANDS) == expected


def test_text_redis_cannot_take_fails_before_anything_is_sent() -> None:
    with pytest.raises(UnicodeEncodeError):
        pack([["SET", "k", "\ud800"]])
