"""Lua that changes a job: enqueue, start, settle, release, cancel, retry and revive. Each
script changes the job, its stream entry and its sender's event in one atomic step."""

from __future__ import annotations

from backend.core.scripts.sessions import EMIT

# KEYS: job, stream, stats. ARGV[5..]: job id, retention, session, accepted body, field pairs...
ENQUEUE = (
    EMIT
    + r"""
-- A job has no TTL until it is final (retention counts from the end, so a backlog never
-- expires). Re-running the same call (a client retry after a lost reply) changes nothing.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('XADD', KEYS[2], '*', 'job', ARGV[5])
redis.call('HINCRBY', KEYS[3], 'enqueued', 1)
return emit(ARGV[7], ARGV[8], true)
"""
)

# KEYS: stream, dead, stats. ARGV[5..]: group, worker, now, job key root, then (entry, job id)
# pairs: every delivery of one read is started in one call. Returns one row per delivery:
# {'run', task, text, args, session, ref, attempt} or {'skip', status} or {'dead', error}.
START = (
    EMIT
    + r"""
local stream, dead, stats = KEYS[1], KEYS[2], KEYS[3]
local group, worker, now, root = ARGV[5], ARGV[6], ARGV[7], ARGV[8]

local function start(entry, id)
  local job = root .. id
  local status = redis.call('HGET', job, 'status')
  if status ~= 'queued' and status ~= 'running' then
    redis.call('XACK', stream, group, entry)
    redis.call('XDEL', stream, entry)
    return {'skip', status or 'missing'}
  end
  local attempt = redis.call('HINCRBY', job, 'attempts', 1)
  local info = redis.call('HMGET', job, 'task', 'text', 'args', 'session', 'ref', 'max_attempts')
  if attempt > tonumber(info[6]) then
    local err = 'worker lost: attempt ' .. (attempt - 1) .. ' never finished'
    redis.call('HSET', job, 'status', 'dead', 'error', err, 'finished', now,
      'attempts', attempt - 1)
    redis.call('ZADD', dead, now, id)
    finalize(job, dead, now)
    redis.call('XACK', stream, group, entry)
    redis.call('XDEL', stream, entry)
    redis.call('HINCRBY', stats, 'dead', 1)
    local body = '{"type":"failed","id":' .. cjson.encode(id) .. ',"ref":' .. (info[5] or 'null')
      .. ',"mode":"queue","error":' .. cjson.encode(err) .. ',"attempt":' .. (attempt - 1)
      .. ',"final":true}'
    emit(info[4], body, true)
    return {'dead', err}
  end
  redis.call('HSET', job, 'status', 'running', 'worker', worker, 'started', now, 'progress', '0')
  local body = '{"type":"started","id":' .. cjson.encode(id) .. ',"consumer":'
    .. cjson.encode(worker) .. ',"attempt":' .. attempt .. '}'
  emit(info[4], body, true)
  return {'run', info[1], info[2], info[3], info[4], info[5], attempt}
end

local rows = {}
for i = 9, #ARGV, 2 do rows[#rows + 1] = start(ARGV[i], ARGV[i + 1]) end
return rows
"""
)

# KEYS: job, stream, delayed, dead, stats, latencies. ARGV[5..]: entry, group, now, job id, outcome
# ('succeeded' | 'retry' | 'dead'), value (result JSON or error), due time, event body.
# Only a job still running is settled: a cancelled one, or one another worker already finished
# after taking it over, is just acknowledged.
SETTLE = (
    EMIT
    + r"""
local job, stream, delayed, dead, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local latencies = KEYS[6]
local entry, group, now, id = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local outcome, value, due, body = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local status = redis.call('HGET', job, 'status')
redis.call('XACK', stream, group, entry)
redis.call('XDEL', stream, entry)
if status ~= 'running' then return status or 'missing' end
if outcome == 'succeeded' then
  redis.call('HSET', job, 'status', 'succeeded', 'result', value, 'finished', now, 'progress', '1')
  finalize(job, nil, now)
  redis.call('HINCRBY', stats, 'succeeded', 1)
  -- created-to-finished, for the dashboard and /metrics: "<finished> <seconds>", newest first
  local created = tonumber(redis.call('HGET', job, 'created') or now)
  redis.call('LPUSH', latencies, now .. ' ' .. string.format('%.6f', tonumber(now) - created))
  redis.call('LTRIM', latencies, 0, 1999)
else
  local attempt = redis.call('HGET', job, 'attempts')
  redis.call('HSET', job, 'error', value, 'error:' .. attempt, value)
  redis.call('HINCRBY', stats, 'failed', 1)
  if outcome == 'retry' then
    redis.call('HSET', job, 'status', 'failed', 'retry_at', due)
    redis.call('ZADD', delayed, due, id)
  else
    redis.call('HSET', job, 'status', 'dead', 'finished', now)
    redis.call('ZADD', dead, now, id)
    finalize(job, dead, tonumber(now))
    redis.call('HINCRBY', stats, 'dead', 1)
  end
end
emit(redis.call('HGET', job, 'session'), body, true)
return outcome
"""
)

# KEYS: job, stream. ARGV[5..]: entry, group, worker, job id.
# A worker stopping with a job unfinished hands it back at the front of nobody's queue: a new
# stream entry, and the attempt it had started does not count.
RELEASE = r"""
local status, worker = unpack(redis.call('HMGET', KEYS[1], 'status', 'worker'))
-- Another worker took it over (this one stalled): its entry is not ours to touch.
if status == 'running' and worker ~= ARGV[7] then return 0 end
redis.call('XACK', KEYS[2], ARGV[6], ARGV[5])
redis.call('XDEL', KEYS[2], ARGV[5])
if status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('XADD', KEYS[2], '*', 'job', ARGV[8])
return 1
"""

# KEYS: job, delayed, stats. ARGV[5..]: job id, required session ('' = any), now, control channel.
# Returns {'cancelled', previous status} or {'final', status} or {'missing'}.
CANCEL = (
    EMIT
    + r"""
local status, owner = unpack(redis.call('HMGET', KEYS[1], 'status', 'session'))
if not status or (ARGV[6] ~= '' and owner ~= ARGV[6]) then return {'missing'} end
if status == 'succeeded' or status == 'dead' or status == 'cancelled' then
  return {'final', status}
end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished', ARGV[7])
finalize(KEYS[1], nil, tonumber(ARGV[7]))
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('HINCRBY', KEYS[3], 'cancelled', 1)
if status == 'running' then
  redis.call('PUBLISH', ARGV[8], cjson.encode({action='cancel', id=ARGV[5]}))
end
emit(owner, cjson.encode({type='cancelled', id=ARGV[5]}), true)
return {'cancelled', status}
"""
)

# KEYS: delayed, stream. ARGV: now, limit, job key root. Moves due retries back into the stream.
PROMOTE = r"""
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local job = ARGV[3] .. id
  if redis.call('HGET', job, 'status') == 'failed' then
    redis.call('HSET', job, 'status', 'queued')
    redis.call('XADD', KEYS[2], '*', 'job', id)
  end
end
return #due
"""

# KEYS: job, dead, stream. ARGV: job id. A dead job back in the queue with fresh attempts.
REVIVE = r"""
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'attempts', 0, 'worker', '')
redis.call('PERSIST', KEYS[1])
redis.call('XADD', KEYS[3], '*', 'job', ARGV[1])
return 1
"""

# KEYS: job. ARGV[5..]: worker, progress, event body. Only the worker running the job reports,
# and never for a job that was cancelled or no longer exists.
PROGRESS = (
    EMIT
    + r"""
local status, worker, session = unpack(redis.call('HMGET', KEYS[1], 'status', 'worker', 'session'))
if status ~= 'running' or worker ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[6])
emit(session, ARGV[7], true)
return 1
"""
)
