"""Lua for the worker's changes to a job: start, settle, hand back, retry when due, progress.
Every key is the queue's (one hash slot), passed in KEYS. Each script changes the job and its
stream entry in one atomic step, so no result is acknowledged before it is stored, and replies
with what the worker then tells the job's session."""

from __future__ import annotations

from backend.core.scripts.queue import JOBS, RUNNABLE

# Starting one delivered entry, new or taken over from a worker that stopped (TAKE does both):
# the caller sets `stream`, `dead`, `stats`, `group`, `worker` and `now` first. A row is
# {'run', task, text, args, session, ref, attempt, runs, timeout}, {'skip', status} or
# {'dead', error, session, ref, attempt, runs}.
STARTING = (
    JOBS
    + r"""
local stream, dead, stats, group, worker, now

local function done_with(entry)
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
end

local function bury(job, id, entry, info, attempt, status)
  local err = 'worker lost: attempt ' .. (attempt - 1) .. ' never finished'
  redis.call('HSET', job, 'status', 'dead', 'error', err, 'finished', now, 'attempts', attempt - 1)
  redis.call('ZADD', dead, now, id)
  finalize(job, dead, now)
  done_with(entry)
  redis.call('HINCRBY', stats, 'dead', 1)
  if status == 'running' then count_task(info[1], 'running', -1) end
  count_task(info[1], 'dead')
  changed(id, 'dead')
  return {'dead', err, info[4] or '', info[5] or 'null', attempt - 1, tonumber(info[7] or '0')}
end

local function start(job, entry, id)
  local status = redis.call('HGET', job, 'status')
  if status ~= 'queued' and status ~= 'running' then
    done_with(entry)
    return {'skip', status or 'missing'}
  end
  local attempt = redis.call('HINCRBY', job, 'attempts', 1)
  local info = redis.call('HMGET', job, 'task', 'text', 'args', 'session', 'ref',
    'max_attempts', 'runs', 'timeout')
  if attempt > tonumber(info[6]) then return bury(job, id, entry, info, attempt, status) end
  local runs = redis.call('HINCRBY', job, 'runs', 1)
  redis.call('HSET', job, 'status', 'running', 'worker', worker, 'started', now, 'progress', '0')
  redis.call('HDEL', job, 'limited')
  if status == 'queued' then count_task(info[1], 'running') end
  changed(id, 'running')
  return {'run', info[1], info[2], info[3], info[4] or '', info[5] or 'null', attempt, runs,
    info[8] or ''}
end
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
# ARGV: entry, group, now, job id, outcome ('succeeded' | 'retry' | 'dead'), value (result JSON
# or error), due time, the job's `runs` when this worker started it. Only a job still running,
# whose entry is still pending, is settled: a cancelled one, or one another worker finished
# after taking it over, is just acknowledged. Returns the outcome stored, or the status that
# stopped it.
SETTLE = (
    JOBS
    + OBSERVE
    + r"""
local job, stream, delayed, dead, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local latencies, histogram = KEYS[6], KEYS[7]
local entry, group, now, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local outcome, value, due, runs = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local status = redis.call('HGET', job, 'status')
-- `queued` under a worker's hands: its start was lost (a primary that failed over before
-- replicating it). The entry stays pending, so the job is taken over and run again.
if status == 'queued' then return status end
local pending = redis.call('XACK', stream, group, entry)
redis.call('XDEL', stream, entry)
-- No longer pending: settled already, by an earlier call of this worker whose reply was lost
-- (then the same outcome is replied, so it is told, once) or by a worker that took it over.
-- Either way nothing changes, even if the job has moved on to a later attempt.
if pending == 0 then
  if redis.call('HGET', job, 'settled') == runs then return outcome end
  return status or 'missing'
end
if status ~= 'running' then return status or 'missing' end
local task, started = unpack(redis.call('HMGET', job, 'task', 'started'))
count_task(task, 'running', -1)
if outcome == 'succeeded' then
  redis.call('HSET', job, 'status', 'succeeded', 'result', value, 'finished', now, 'progress', '1',
    'settled', runs)
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
  redis.call('HSET', job, 'error', value, 'error:' .. attempt, value, 'settled', runs)
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
return outcome
"""
)

# KEYS: job, stream, ready, wake, tasks, feed. ARGV: entry, group, worker, job id.
# A worker stopping with a job unfinished hands it back: runnable again at its old rank, and the
# attempt it had started does not count.
RELEASE = (
    JOBS
    + RUNNABLE
    + r"""
local status, worker, task = unpack(redis.call('HMGET', KEYS[1], 'status', 'worker', 'task'))
-- Another worker took it over (this one stalled): its entry is not ours to touch.
if status == 'running' and worker ~= ARGV[3] then return 0 end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[2], ARGV[1])
if status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
redis.call('HINCRBY', KEYS[1], 'attempts', -1)
runnable(KEYS[3], KEYS[4], ARGV[4], redis.call('HGET', KEYS[1], 'rank'))
count_task(task, 'running', -1)
changed(ARGV[4], 'queued')
return 1
"""
)

# KEYS: one of the waiting sets (delayed, scheduled, limited), ready, wake, the key of each job
# id in ARGV, tasks, feed. Makes due retries, held new jobs, delayed jobs and jobs a rate limit
# held back runnable again, at their old rank; one moved already is skipped.
PROMOTE = (
    JOBS
    + RUNNABLE
    + r"""
local moved = 0
for i, id in ipairs(ARGV) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local job = KEYS[3 + i]
    local status, rank = unpack(redis.call('HMGET', job, 'status', 'rank'))
    if status == 'failed' or status == 'queued' then
      redis.call('HSET', job, 'status', 'queued')
      redis.call('HDEL', job, 'held')
      runnable(KEYS[2], KEYS[3], id, rank)
      changed(id, 'queued')
      moved = moved + 1
    end
  end
end
return moved
"""
)

# KEYS: job, tasks, feed. ARGV: worker, job id, progress. Only the worker running the job
# reports, and never for a job that was cancelled or no longer exists. Returns the job's session
# ('' for none), or false when the job is not this worker's to report on.
PROGRESS = (
    JOBS
    + r"""
local status, worker, session = unpack(redis.call('HMGET', KEYS[1], 'status', 'worker', 'session'))
if status ~= 'running' or worker ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'progress', ARGV[3])
changed(ARGV[2], 'progress')
return session or ''
"""
)
