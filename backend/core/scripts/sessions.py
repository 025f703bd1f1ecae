"""Lua that numbers, logs and routes session events: the `emit` every other script uses, and
attaching a session's socket to a web process."""

from __future__ import annotations

EMIT = r"""
local SESSION_ROOT, INSTANCE_ROOT = ARGV[1], ARGV[2]
local SESSION_TTL, LOG_MAX = tonumber(ARGV[3]), tonumber(ARGV[4])
-- The counter is a few bytes: it outlives the log by far, so a session's numbering never
-- starts over while one of its jobs may still report (a restarted count would hide events).
local SEQ_TTL = SESSION_TTL * 100

-- A job's state is kept `retention` seconds from the moment it becomes final; the dead-letter
-- set forgets ids whose state is gone.
local function finalize(job, dead, now)
  local keep = tonumber(redis.call('HGET', job, 'retention'))
  if keep then
    redis.call('EXPIRE', job, keep)
    if dead then redis.call('ZREMRANGEBYSCORE', dead, '-inf', now - keep) end
  end
end

local function emit(session, body, logged)
  if not session or session == '' then return 0 end
  local base = SESSION_ROOT .. session
  local seq = redis.call('INCR', base .. ':seq')
  redis.call('EXPIRE', base .. ':seq', SEQ_TTL)
  local event = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
  if logged then
    -- pcall: a log that cannot take the entry must not abort the state change around it
    redis.pcall('XADD', base .. ':log', 'MAXLEN', '~', LOG_MAX, seq .. '-0', 'e', event)
    redis.call('EXPIRE', base .. ':log', SESSION_TTL)
  end
  local route = redis.call('GET', base .. ':route')
  if route then
    redis.call('PUBLISH', INSTANCE_ROOT .. route, session .. '\n' .. event)
  end
  return seq
end
"""

# ARGV[5..]: session, body, logged ('1' or '0').
EMIT_ONE = (
    EMIT
    + r"""
return emit(ARGV[5], ARGV[6], ARGV[7] == '1')
"""
)

# ARGV[5..]: session, instance, after (-1: from now). Points the session's events at this
# instance and returns {cursor, events after the cursor}; the cursor is where the client is.
ATTACH = (
    EMIT
    + r"""
local base = SESSION_ROOT .. ARGV[5]
redis.call('SET', base .. ':route', ARGV[6], 'EX', SESSION_TTL)
redis.call('EXPIRE', base .. ':seq', SEQ_TTL)
redis.call('EXPIRE', base .. ':log', SESSION_TTL)
local head = tonumber(redis.call('GET', base .. ':seq') or '0')
local after = tonumber(ARGV[7])
if after < 0 then after = head end
if after > head then
  -- Redis lost this session's counter (a restart without persistence): continue numbering
  -- after what the client has seen, so its seq never goes backwards.
  redis.call('SET', base .. ':seq', ARGV[7], 'EX', SEQ_TTL)
  head = after
end
local events = {}
if after < head then
  for _, row in ipairs(redis.call('XRANGE', base .. ':log', (after + 1) .. '-0', '+')) do
    events[#events + 1] = row[2][2]
  end
end
return {after, events}
"""
)

# ARGV[5..]: session, instance. Stops routing to this instance unless another took over.
DETACH = (
    EMIT
    + r"""
local route = SESSION_ROOT .. ARGV[5] .. ':route'
if redis.call('GET', route) == ARGV[6] then redis.call('DEL', route) end
return 0
"""
)
