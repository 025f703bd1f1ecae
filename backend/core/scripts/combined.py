"""Two scripts as one, for a single Redis: a job's change and the event that tells its session,
in one call instead of two.

On a single Redis a script may touch keys of any slot, so the queue's script and the session's
can run in one call, atomically: one round trip, one script run, and no window in which the job
is stored but its sender not yet told (so a socket job needs no hold). On a Redis Cluster the
two slots live on different nodes, and the two calls stay apart.

The combined script takes KEYS = first's keys, then second's; ARGV = the number of first's
keys, the number of first's args, first's args, then second's. Each part sees its own KEYS and
ARGV (function parameters shadow the globals), so the parts run unchanged. The second runs only
when `condition` (a Lua expression over `first`, the first part's reply, and `A`, its ARGV)
holds. The reply is {first's reply} or {first's reply, second's reply}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def combined(first: str, second: str, condition: str) -> str:
    return f"""
local NK, NA = tonumber(ARGV[1]), tonumber(ARGV[2])
local ALL_KEYS, ALL_ARGV = KEYS, ARGV
local function slice(list, from, to)
  local out = {{}}
  for i = from, to do out[#out + 1] = list[i] end
  return out
end
local K1, A = slice(ALL_KEYS, 1, NK), slice(ALL_ARGV, 3, NA + 2)
local first = (function(KEYS, ARGV)
{first}
end)(K1, A)
if not ({condition}) then return {{first}} end
local second = (function(KEYS, ARGV)
{second}
end)(slice(ALL_KEYS, NK + 1, #ALL_KEYS), slice(ALL_ARGV, NA + 3, #ALL_ARGV))
return {{first, second}}
"""


def combined_args(
    first_keys: Sequence[str], first_args: Sequence[Any], second_args: Sequence[Any]
) -> list[Any]:
    """ARGV for a `combined` script."""
    return [len(first_keys), len(first_args), *first_args, *second_args]
