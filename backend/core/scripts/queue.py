"""Lua for the producer's and the operator's changes to a job: enqueue, cancel, revive. Each
script changes the job, its stream entry and its sender's event in one atomic step; the worker's
scripts are in `deliveries`."""

from __future__ import annotations

from backend.core.scripts.sessions import EMIT

# Every job script takes two more KEYS, last: the per-task counters and the job feed. The feed
# is a key that exists while some job console watches, and the channel of the same name that
# then carries "<id> <status>" for each change; with nobody watching, a change costs one EXISTS.
JOBS = r"""
local TASKS, FEED = KEYS[#KEYS - 1], KEYS[#KEYS]
local function changed(id, status)
  if redis.call('EXISTS', FEED) == 1 then redis.call('PUBLISH', FEED, id .. ' ' .. status) end
end
local function count_task(task, field, by)
  if task then redis.call('HINCRBY', TASKS, task .. '|' .. field, by or 1) end
end
"""

# KEYS: job, stream, stats, index, tasks, feed. ARGV[5..]: job id, retention, session, accepted
# body, field pairs...
ENQUEUE = (
    EMIT
    + JOBS
    + r"""
-- A job has no TTL until it is final (retention counts from the end, so a backlog never
-- expires). Re-running the same call (a client retry after a lost reply) changes nothing.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('XADD', KEYS[2], '*', 'job', ARGV[5])
redis.call('HINCRBY', KEYS[3], 'enqueued', 1)
redis.call('ZADD', KEYS[4], redis.call('HGET', KEYS[1], 'created'), ARGV[5])
changed(ARGV[5], 'queued')
return emit(ARGV[7], ARGV[8], true)
"""
)

# KEYS: job, delayed, stats, tasks, feed. ARGV[5..]: job id, required session ('' = any), now,
# control channel.
# Returns {'cancelled', previous status} or {'final', status} or {'missing'}.
CANCEL = (
    EMIT
    + JOBS
    + r"""
local status, owner, task = unpack(redis.call('HMGET', KEYS[1], 'status', 'session', 'task'))
if not status or (ARGV[6] ~= '' and owner ~= ARGV[6]) then return {'missing'} end
if status == 'succeeded' or status == 'dead' or status == 'cancelled' then
  return {'final', status}
end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished', ARGV[7])
finalize(KEYS[1], nil, tonumber(ARGV[7]))
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[3], 'cancelled', 1)
count_task(task, 'cancelled')
if status == 'running' then
  count_task(task, 'running', -1)
  redis.call('PUBLISH', ARGV[8], cjson.encode({action='cancel', id=ARGV[5]}))
end
changed(ARGV[5], 'cancelled')
emit(owner, cjson.encode({type='cancelled', id=ARGV[5]}), true)
return {'cancelled', status}
"""
)

# KEYS: job, dead, stream, tasks, feed. ARGV: job id. A dead job back in the queue with fresh
# attempts.
REVIVE = (
    JOBS
    + r"""
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', 0, 'worker', '')
redis.call('PERSIST', KEYS[1])
redis.call('XADD', KEYS[3], '*', 'job', ARGV[1])
changed(ARGV[1], 'queued')
return 1
"""
)
