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
  local keep, dedup = unpack(redis.call('HMGET', job, 'retention', 'dedup'))
  keep = tonumber(keep)
  if keep then
    redis.call('EXPIRE', job, keep)
    if dedup then redis.call('EXPIRE', dedup, keep) end
    if dead then redis.call('ZREMRANGEBYSCORE', dead, '-inf', now - keep) end
  end
end
"""

# A runnable job waits in the ready set, ranked by priority (0-9, higher first) and then by
# arrival, and one wake token is pushed for the idle workers blocked on the wake list. The rank
# is kept in the job, so a retry, a hand-back or a job a rate limit held back keeps its place.
RANK_STEP = 2**40  # arrivals per priority before ranks overlap; ranks stay exact doubles
WAKE_MAX = 64  # tokens are hints: a few are enough to wake every idle worker
RUNNABLE = r"""
local function rank_of(priority, seq)
  return string.format('%.0f', (9 - priority) * RANK_STEP + seq)
end
local function runnable(ready, wake, id, rank)
  redis.call('ZADD', ready, rank or rank_of(5, 0), id)
  if redis.call('LLEN', wake) < WAKE_MAX then redis.call('LPUSH', wake, '1') end
end
""".replace("RANK_STEP", str(RANK_STEP)).replace("WAKE_MAX", str(WAKE_MAX))

# KEYS: job, stats, index, delayed, scheduled, ready, wake, key (the idempotency key's; unused
# without one), tasks, feed. ARGV: job id, hold until (unix time; '' = none), run at (''),
# priority, has key ('1' or ''), queue base, field pairs...
# A job sent with `delay`/`at` waits in the scheduled set until then. A job sent over a socket is
# held in the delayed set, marked `held`, until its sender has been told `accepted` (then PROMOTE
# makes it runnable at once) or, should the sender's web process die first, until the hold ends
# and a worker's PROMOTE does. Returns {1}, {0} if the job exists already (a retried call after a
# lost reply changes nothing) or {'duplicate', first job's id, its status, its run_at or ''}
# for a key still in use.
ENQUEUE = (
    JOBS
    + RUNNABLE
    + r"""
-- A job has no TTL until it is final (retention counts from the end, so a backlog never
-- expires).
local job, stats, dedup = KEYS[1], KEYS[2], KEYS[8]
local id, hold, run_at, priority = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', job) == 1 then return {0} end
if ARGV[5] == '1' then
  local first = redis.call('GET', dedup)
  if first then
    local status, first_run_at = unpack(redis.call('HMGET', ARGV[6] .. 'job:' .. first,
      'status', 'run_at'))
    if status then return {'duplicate', first, status, first_run_at or ''} end
  end
  redis.call('SET', dedup, id)
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', job, unpack(fields))
local rank = rank_of(priority, redis.call('HINCRBY', stats, 'seq', 1))
redis.call('HSET', job, 'priority', priority, 'rank', rank)
if ARGV[5] == '1' then redis.call('HSET', job, 'dedup', dedup) end
if run_at ~= '' then
  redis.call('HSET', job, 'run_at', run_at)
  redis.call('ZADD', KEYS[5], run_at, id)
elseif hold ~= '' then
  redis.call('HSET', job, 'held', '1')
  redis.call('ZADD', KEYS[4], hold, id)
else
  runnable(KEYS[6], KEYS[7], id, rank)
end
redis.call('HINCRBY', stats, 'enqueued', 1)
redis.call('ZADD', KEYS[3], redis.call('HGET', job, 'created'), id)
changed(id, 'queued')
return {1}
"""
)

# KEYS: job, delayed, scheduled, limited, ready, stats, tasks, feed. ARGV: job id, required
# session ('' = any), now,
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
for i = 2, 5 do redis.call('ZREM', KEYS[i], ARGV[1]) end
redis.call('HINCRBY', KEYS[6], 'cancelled', 1)
count_task(task, 'cancelled')
if status == 'running' then
  count_task(task, 'running', -1)
  redis.call('PUBLISH', ARGV[4], cjson.encode({action='cancel', id=ARGV[1]}))
end
changed(ARGV[1], 'cancelled')
return {'cancelled', status, owner or '', ref or 'null', tonumber(runs or '0')}
"""
)

# KEYS: job, dead, ready, wake, tasks, feed. ARGV: job id. A dead job back in the queue with
# fresh attempts. Returns {1, session} or {0} (not dead) or {-1} (its state is gone).
REVIVE = (
    JOBS
    + RUNNABLE
    + r"""
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return {0} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', 0, 'worker', '')
redis.call('PERSIST', KEYS[1])
local dedup = redis.call('HGET', KEYS[1], 'dedup')
if dedup then redis.call('PERSIST', dedup) end
runnable(KEYS[3], KEYS[4], ARGV[1], redis.call('HGET', KEYS[1], 'rank'))
changed(ARGV[1], 'queued')
return {1, redis.call('HGET', KEYS[1], 'session') or ''}
"""
)
