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

# KEYS: stream, ready, limited, dead, stats, tasks, feed. ARGV: group, worker, now, how many,
# queue base, then (task, limit, period) per rate-limited task. The keys of the jobs it pops
# are the queue base + `job:<id>`, in the queue's hash slot like every key here. Returns
# {entry, job id, row} per job started, the row as STARTING makes it.
TAKE = (
    STARTING
    + RATES
    + r"""
stream, dead, stats = KEYS[1], KEYS[4], KEYS[5]
group, worker, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local want, base = tonumber(ARGV[4]), ARGV[5]
for i = 6, #ARGV, 3 do rates[ARGV[i]] = {tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])} end
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
local reply = redis.call('XREADGROUP', 'GROUP', group, worker, 'COUNT', want,
  'STREAMS', stream, '>')
local rows = {}
if reply and reply[1] then
  for _, item in ipairs(reply[1][2]) do
    local entry, fields = item[1], item[2]
    local id = fields[2]
    rows[#rows + 1] = {entry, id, start(base .. 'job:' .. id, entry, id)}
  end
end
return rows
"""
)
