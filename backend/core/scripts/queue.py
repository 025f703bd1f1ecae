"""Lua for the producer's and the operator's changes to a job: enqueue, cancel, revive. Every key
is the queue's (one hash slot), passed in KEYS; the worker's scripts are in `deliveries`.

A job script changes the job and its place in the queue atomically, and replies with what its
caller needs to tell the job's session (in the session's own slot, see `scripts.sessions`).
"""

from __future__ import annotations

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
-- A job's state is kept `retention` seconds from the moment it becomes final; the dead-letter
-- set forgets ids whose state is gone.
local function finalize(job, dead, now)
  local keep = tonumber(redis.call('HGET', job, 'retention'))
  if keep then
    redis.call('EXPIRE', job, keep)
    if dead then redis.call('ZREMRANGEBYSCORE', dead, '-inf', now - keep) end
  end
end
"""

# KEYS: job, stream, stats, index, delayed, tasks, feed. ARGV: job id, hold until (unix time;
# '' queues it now), field pairs... A held job waits in the delayed set, marked `held`, until its
# sender has been told `accepted` (then PROMOTE queues it at once) or, should the sender's web
# process die first, until the hold ends and a worker's PROMOTE queues it. Returns 1, or 0 if
# the job exists already (a retried call after a lost reply changes nothing).
ENQUEUE = (
    JOBS
    + r"""
-- A job has no TTL until it is final (retention counts from the end, so a backlog never
-- expires).
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if ARGV[2] == '' then
  redis.call('XADD', KEYS[2], '*', 'job', ARGV[1])
else
  redis.call('HSET', KEYS[1], 'held', '1')
  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
end
redis.call('HINCRBY', KEYS[3], 'enqueued', 1)
redis.call('ZADD', KEYS[4], redis.call('HGET', KEYS[1], 'created'), ARGV[1])
changed(ARGV[1], 'queued')
return 1
"""
)

# KEYS: job, delayed, stats, tasks, feed. ARGV: job id, required session ('' = any), now,
# control channel. Returns {'cancelled', previous status, session, ref, runs} or
# {'final', status} or {'missing'}.
CANCEL = (
    JOBS
    + r"""
local status, owner, task, ref, runs = unpack(redis.call('HMGET', KEYS[1],
  'status', 'session', 'task', 'ref', 'runs'))
if not status or (ARGV[2] ~= '' and owner ~= ARGV[2]) then return {'missing'} end
if status == 'succeeded' or status == 'dead' or status == 'cancelled' then
  return {'final', status}
end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished', ARGV[3])
finalize(KEYS[1], nil, tonumber(ARGV[3]))
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'cancelled', 1)
count_task(task, 'cancelled')
if status == 'running' then
  count_task(task, 'running', -1)
  redis.call('PUBLISH', ARGV[4], cjson.encode({action='cancel', id=ARGV[1]}))
end
changed(ARGV[1], 'cancelled')
return {'cancelled', status, owner or '', ref or 'null', tonumber(runs or '0')}
"""
)

# KEYS: job, dead, stream, tasks, feed. ARGV: job id. A dead job back in the queue with fresh
# attempts. Returns {1, session} or {0} (not dead) or {-1} (its state is gone).
REVIVE = (
    JOBS
    + r"""
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return {0} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', 0, 'worker', '')
redis.call('PERSIST', KEYS[1])
redis.call('XADD', KEYS[3], '*', 'job', ARGV[1])
changed(ARGV[1], 'queued')
return {1, redis.call('HGET', KEYS[1], 'session') or ''}
"""
)
