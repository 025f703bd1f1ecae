"""Lua for a worker taking new jobs: the highest-ranked runnable ones, within their tasks' rate
limits, delivered through the stream (so the consumer group tracks them until settled) and
started, all in one call."""

from __future__ import annotations

from backend.core.scripts.deliveries import STARTING

# A task's rate limit is a sliding log: the start times of its last `limit` attempts, in a
# sorted set. A job over the limit waits in the limited set until the oldest start leaves the
# window; jobs held back together are spread one `period/limit` apart, so they do not all come
# back at the same moment to be held back again.
RATES = r"""
local rates = {}
local function rate_check(base, task, id)
  local rate = rates[task]
  if not rate then return nil end
  local limit, period = rate[1], rate[2]
  local log = base .. 'rate:' .. task
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - period)
  if redis.call('ZCARD', log) < limit then
    redis.call('ZADD', log, now, id .. ':' .. now)
    redis.call('PEXPIRE', log, math.ceil(period * 1000) + 1000)
    return nil
  end
  local oldest = tonumber(redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')[2])
  local tails = base .. 'rate-tails'
  local due = math.max(oldest + period, tonumber(redis.call('HGET', tails, task) or '0'))
  redis.call('HSET', tails, task, due + period / limit)
  return due
end
"""

# Entries pending longer than the visibility timeout belong to a worker that stopped (live ones
# renew theirs): they are claimed and started first, being older than anything in the ready set.
# XAUTOCLAIM looks at up to ten times COUNT pending entries per call, so the walk goes on from
# the worker's cursor until enough are claimed, the list has been walked to its end, or a bound.
CLAIMING = r"""
local function take_over(idle, cursor, want, base, rows)
  local started, rounds = 0, 0
  while started < want and rounds < 32 do
    local reply = redis.call('XAUTOCLAIM', stream, group, worker, idle, cursor,
      'COUNT', want - started)
    cursor, rounds = reply[1], rounds + 1
    for _, item in ipairs(reply[2]) do
      local entry, fields = item[1], item[2]
      if fields then
        local id = fields[2]
        local row = start(base .. 'job:' .. id, entry, id)
        if row[1] == 'run' then
          started = started + 1
          redis.call('HINCRBY', stats, 'taken_over', 1)
        end
        rows[#rows + 1] = {entry, id, row, 1}
      else
        redis.call('XACK', stream, group, entry)  -- deleted while pending (Redis 6.2)
      end
    end
    if cursor == '0-0' then break end
  end
  return cursor, started
end
"""

# KEYS: stream, ready, limited, dead, stats, tasks, feed. ARGV: group, worker, now, how many,
# queue base, the visibility timeout in ms (0: claim nothing this time), the claim cursor, then
# (task, limit, period) per rate-limited task. The keys of the jobs it pops are the queue base +
# `job:<id>`, in the queue's hash slot like every key here. Returns the next claim cursor and
# {entry, job id, row, taken over (0 or 1)} per job started, the row as STARTING makes it.
TAKE = (
    STARTING
    + RATES
    + CLAIMING
    + r"""
stream, dead, stats = KEYS[1], KEYS[4], KEYS[5]
group, worker, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local want, base, idle, cursor = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), ARGV[7]
for i = 8, #ARGV, 3 do rates[ARGV[i]] = {tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])} end
local rows = {}
if idle > 0 then
  local claimed
  cursor, claimed = take_over(idle, cursor, want, base, rows)
  want = want - claimed
end
local added, popped = 0, 0
while added < want and popped < want * 4 + 8 do
  local top = redis.call('ZPOPMIN', KEYS[2], want - added)
  if #top == 0 then break end
  for i = 1, #top, 2 do
    local id = top[i]
    local job = base .. 'job:' .. id
    popped = popped + 1
    local status, task = unpack(redis.call('HMGET', job, 'status', 'task'))
    if status == 'queued' then
      local due = rate_check(base, task, id)
      if due then
        redis.call('ZADD', KEYS[3], due, id)
        redis.call('HSET', job, 'limited', due)
        changed(id, 'limited')
      else
        redis.call('XADD', stream, '*', 'job', id)
        added = added + 1
      end
    end
  end
end
if want > 0 then
  local reply = redis.call('XREADGROUP', 'GROUP', group, worker, 'COUNT', want,
    'STREAMS', stream, '>')
  if reply and reply[1] then
    for _, item in ipairs(reply[1][2]) do
      local entry, fields = item[1], item[2]
      local id = fields[2]
      rows[#rows + 1] = {entry, id, start(base .. 'job:' .. id, entry, id), 0}
    end
  end
end
return {cursor, rows}
"""
)
