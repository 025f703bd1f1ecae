"""Lua for the worker's changes to a job: start, settle, hand back, retry when due, progress.
Each script changes the job, its stream entry and its sender's event in one atomic step, so no
result is acknowledged before it is stored."""

from __future__ import annotations

from backend.core.scripts.queue import JOBS
from backend.core.scripts.sessions import EMIT

# KEYS: stream, dead, stats, tasks, feed. ARGV[5..]: group, worker, now, job key root, then
# (entry, job id)
# pairs: every delivery of one read is started in one call. Returns one row per delivery:
# {'run', task, text, args, session, ref, attempt} or {'skip', status} or {'dead', error}.
START = (
    EMIT
    + JOBS
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
    if status == 'running' then count_task(info[1], 'running', -1) end
    count_task(info[1], 'dead')
    changed(id, 'dead')
    local body = '{"type":"failed","id":' .. cjson.encode(id) .. ',"ref":' .. (info[5] or 'null')
      .. ',"mode":"queue","error":' .. cjson.encode(err) .. ',"attempt":' .. (attempt - 1)
      .. ',"final":true}'
    emit(info[4], body, true)
    return {'dead', err}
  end
  redis.call('HSET', job, 'status', 'running', 'worker', worker, 'started', now, 'progress', '0')
  if status == 'queued' then count_task(info[1], 'running') end
  changed(id, 'running')
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

# Job latency (enqueue to result) as a histogram that only grows: one counter per bucket, plus
# the sum and the count, as Prometheus histograms have. The bounds, in seconds, are the `le`
# labels /metrics shows.
LATENCY_BUCKETS = (
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60",
    "300", "1800",
)  # fmt: skip
OBSERVE = r"""
local LATENCY_BUCKETS = {BOUNDS}
local function observe_latency(histogram, seconds)
  local le = '+Inf'
  for _, bound in ipairs(LATENCY_BUCKETS) do
    if seconds <= tonumber(bound) then le = bound break end
  end
  redis.call('HINCRBY', histogram, le, 1)
  redis.call('HINCRBYFLOAT', histogram, 'sum', string.format('%.6f', seconds))
  redis.call('HINCRBY', histogram, 'count', 1)
end
""".replace("BOUNDS", ", ".join(f"'{bound}'" for bound in LATENCY_BUCKETS))

# KEYS: job, stream, delayed, dead, stats, latencies, latency histogram, tasks, feed.
# ARGV[5..]: entry, group, now, job id, outcome
# ('succeeded' | 'retry' | 'dead'), value (result JSON or error), due time, event body.
# Only a job still running is settled: a cancelled one, or one another worker already finished
# after taking it over, is just acknowledged.
SETTLE = (
    EMIT
    + JOBS
    + OBSERVE
    + r"""
local job, stream, delayed, dead, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local latencies, histogram = KEYS[6], KEYS[7]
local entry, group, now, id = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local outcome, value, due, body = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local status = redis.call('HGET', job, 'status')
redis.call('XACK', stream, group, entry)
redis.call('XDEL', stream, entry)
if status ~= 'running' then return status or 'missing' end
local task, started = unpack(redis.call('HMGET', job, 'task', 'started'))
count_task(task, 'running', -1)
if outcome == 'succeeded' then
  redis.call('HSET', job, 'status', 'succeeded', 'result', value, 'finished', now, 'progress', '1')
  finalize(job, nil, now)
  redis.call('HINCRBY', stats, 'succeeded', 1)
  count_task(task, 'succeeded')
  local ran = math.max(0, tonumber(now) - tonumber(started or now))
  redis.call('HINCRBYFLOAT', TASKS, task .. '|run_seconds', string.format('%.6f', ran))
  -- created-to-finished: recent ones for the dashboard ("<finished> <seconds>", newest first),
  -- and every one in the histogram /metrics shows
  local created = tonumber(redis.call('HGET', job, 'created') or now)
  local seconds = math.max(0, tonumber(now) - created)
  redis.call('LPUSH', latencies, now .. ' ' .. string.format('%.6f', seconds))
  redis.call('LTRIM', latencies, 0, 1999)
  observe_latency(histogram, seconds)
else
  local attempt = redis.call('HGET', job, 'attempts')
  redis.call('HSET', job, 'error', value, 'error:' .. attempt, value)
  redis.call('HINCRBY', stats, 'failed', 1)
  count_task(task, 'failed')
  if outcome == 'retry' then
    redis.call('HSET', job, 'status', 'failed', 'retry_at', due)
    redis.call('ZADD', delayed, due, id)
  else
    redis.call('HSET', job, 'status', 'dead', 'finished', now)
    redis.call('ZADD', dead, now, id)
    finalize(job, dead, tonumber(now))
    redis.call('HINCRBY', stats, 'dead', 1)
    count_task(task, 'dead')
  end
end
changed(id, redis.call('HGET', job, 'status'))
emit(redis.call('HGET', job, 'session'), body, true)
return outcome
"""
)

# KEYS: job, stream, tasks, feed. ARGV[5..]: entry, group, worker, job id.
# A worker stopping with a job unfinished hands it back at the front of nobody's queue: a new
# stream entry, and the attempt it had started does not count.
RELEASE = (
    JOBS
    + r"""
local status, worker, task = unpack(redis.call('HMGET', KEYS[1], 'status', 'worker', 'task'))
-- Another worker took it over (this one stalled): its entry is not ours to touch.
if status == 'running' and worker ~= ARGV[7] then return 0 end
redis.call('XACK', KEYS[2], ARGV[6], ARGV[5])
redis.call('XDEL', KEYS[2], ARGV[5])
if status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
redis.call('XADD', KEYS[2], '*', 'job', ARGV[8])
count_task(task, 'running', -1)
changed(ARGV[8], 'queued')
return 1
"""
)

# KEYS: delayed, stream, tasks, feed. ARGV: now, limit, job key root. Moves due retries back into
# the stream.
PROMOTE = (
    JOBS
    + r"""
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local job = ARGV[3] .. id
  if redis.call('HGET', job, 'status') == 'failed' then
    redis.call('HSET', job, 'status', 'queued')
    redis.call('XADD', KEYS[2], '*', 'job', id)
    changed(id, 'queued')
  end
end
return #due
"""
)

# KEYS: job, tasks, feed. ARGV[5..]: worker, job id, progress, event body. Only the worker running
# the job reports, and never for a job that was cancelled or no longer exists.
PROGRESS = (
    EMIT
    + JOBS
    + r"""
local status, worker, session = unpack(redis.call('HMGET', KEYS[1], 'status', 'worker', 'session'))
if status ~= 'running' or worker ~= ARGV[5] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[7])
changed(ARGV[6], 'progress')
emit(session, ARGV[8], true)
return 1
"""
)
