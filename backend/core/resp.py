"""A batch of commands sent on one connection of the pool, packed once.

The script pipeline sends every call of a web process or worker: under load, thousands a second,
each with a dozen or more arguments. redis-py's pipeline packs each argument in Python, one by
one, which cost more CPU than Redis spent running the scripts; here a batch is packed in one
pass (the same encoding as redis-py's: text as UTF-8, an int in decimal, a float by `repr`) and
written at once, and the replies are read as redis-py reads them (decoded the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError

Arg = str | int | float | bytes


def pack(commands: Sequence[Sequence[Arg]]) -> bytes:
    """RESP for the commands, back to back. Raises before anything is sent if an argument
    cannot be encoded (text with a lone surrogate, say)."""
    out = bytearray()
    for command in commands:
        out += b"*%d\r\n" % len(command)
        for arg in command:
            if isinstance(arg, str):
                data = arg.encode()
            elif isinstance(arg, bytes):
                data = arg
            elif isinstance(arg, float):
                data = repr(arg).encode()
            else:
                data = b"%d" % arg
            out += b"$%d\r\n" % len(data)
            out += data
            out += b"\r\n"
    return bytes(out)


async def run_batch(pool: Any, connection: Any, commands: Sequence[Sequence[Arg]]) -> list[Any]:
    """Each command's reply, an error reply as its ResponseError. The connection goes back to
    `pool`, or is closed first when the batch did not finish (unread replies would be taken
    for the next batch's)."""
    packed = pack(commands)
    try:
        await connection.send_packed_command(packed, check_health=False)
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(await connection.read_response())
            except ResponseError as exc:
                replies.append(exc)
    except BaseException:
        await connection.disconnect()
        raise
    finally:
        await pool.release(connection)
    return replies
