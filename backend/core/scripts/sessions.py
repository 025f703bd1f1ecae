"""Lua that numbers, logs and routes one session's events. Every key it touches is the session's
(one hash slot), passed in KEYS.

Each script's first KEYS are the session's seq, log and route; its first ARGV are the session
TTL, the log length cap, the instance channel root, the session id and the calling web
instance ('' for a worker or subscriber). `emit` gives an event the session's next number and
appends it to the log. On a single Redis it also publishes the event to the web instance holding
the socket (unless that is the caller, which delivers it itself); on a cluster the channel root
is '' and the caller publishes, since a script may only publish to channels of its own slot.
Every script returns the route and the events it emitted.
"""

from __future__ import annotations

EMIT = r"""
local SEQ, LOG, ROUTE = KEYS[1], KEYS[2], KEYS[3]
local TTL, LOG_MAX = tonumber(ARGV[1]), tonumber(ARGV[2])
local CHANNEL_ROOT, SESSION, CALLER = ARGV[3], ARGV[4], ARGV[5]
-- The counter is a few bytes: it outlives the log by far, so a session's numbering never starts
-- over while one of its jobs may still report (a restarted count would hide events).
local SEQ_TTL = TTL * 100
local ROUTED = redis.call('GET', ROUTE)
local OUT = {}

local function emit(body, logged, reply)
  local seq = redis.call('INCR', SEQ)
  redis.call('EXPIRE', SEQ, SEQ_TTL)
  local event = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
  if logged then
    -- pcall: a log that cannot take the entry must not abort the script around it
    if reply and reply ~= '' then
      redis.pcall('XADD', LOG, 'MAXLEN', '~', LOG_MAX, seq .. '-0', 'e', event, 'r', reply)
    else
      redis.pcall('XADD', LOG, 'MAXLEN', '~', LOG_MAX, seq .. '-0', 'e', event)
    end
    redis.call('EXPIRE', LOG, TTL)
  end
  if ROUTED and CHANNEL_ROOT ~= '' and ROUTED ~= CALLER then
    redis.call('PUBLISH', CHANNEL_ROOT .. ROUTED, SESSION .. '\n' .. event)
  end
  OUT[#OUT + 1] = event
  return seq
end

local function done() return {ROUTED or '', OUT} end
"""

# ARGV[6..]: body, logged ('1' or '0'), reply id ('' for none), again ('1': an earlier call's
# reply was lost). A reply is logged under its id; called again, the script returns the reply
# already logged under that id instead of numbering it twice (a reply is sent once, and the
# log is where a lost one is found).
EMIT_ONE = (
    EMIT
    + r"""
local reply = ARGV[8] or ''
if ARGV[9] == '1' and reply ~= '' then
  for _, row in ipairs(redis.call('XREVRANGE', LOG, '+', '-', 'COUNT', 1000)) do
    if row[2][4] == reply then
      OUT[1] = row[2][2]
      return done()
    end
  end
end
emit(ARGV[6], ARGV[7] == '1', reply)
return done()
"""
)

# KEYS[4]: jobs; KEYS[5] (pub/sub only): parked replies. ARGV[6..]: job (or message) id, step,
# final ('1'/'0'), body, body to send first if this job is new to the session ('' for none),
# now. A job's events go out at most once each and in step order, whoever sends them, so a
# worker and a web process (or a recovery after a crash) can both try.
EMIT_JOB = (
    EMIT
    + r"""
local JOBS, id, step, final = KEYS[4], ARGV[6], tonumber(ARGV[7]), ARGV[8] == '1'
local body, first, now = ARGV[9], ARGV[10], tonumber(ARGV[11])
local DONE = 1e12
local told = tonumber(redis.call('ZSCORE', JOBS, id))
if told and (told >= DONE or step <= told) then return done() end
if not told and first ~= '' then emit(first, true) end
emit(body, true)
if final then
  redis.call('ZADD', JOBS, DONE + now, id)
  redis.call('ZREMRANGEBYSCORE', JOBS, DONE, DONE + now - 300)
else
  redis.call('ZADD', JOBS, step, id)
end
redis.call('EXPIRE', JOBS, SEQ_TTL)
if KEYS[5] then
  for _, parked in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do emit(parked, true) end
  redis.call('DEL', KEYS[5])
end
return done()
"""
)

# KEYS[4]: jobs, KEYS[5]: parked. ARGV[6..]: message id, body. A subscriber's reply waits until
# the sender has been told `accepted` (with how many receivers), then goes out after it.
EMIT_REPLY = (
    EMIT
    + r"""
if redis.call('ZSCORE', KEYS[4], ARGV[6]) then
  emit(ARGV[7], true)
else
  redis.call('RPUSH', KEYS[5], ARGV[7])
  redis.call('EXPIRE', KEYS[5], 60)
end
return done()
"""
)

# KEYS[4]: jobs. ARGV[6..]: instance, after (-1: from now). Points the session's events at this
# instance and returns {cursor, events after the cursor, jobs not yet told their end, the
# instance it was routed to before ('' for none)}.
ATTACH = (
    EMIT
    + r"""
redis.call('SET', ROUTE, ARGV[6], 'EX', TTL)
redis.call('EXPIRE', SEQ, SEQ_TTL)
redis.call('EXPIRE', LOG, TTL)
local head = tonumber(redis.call('GET', SEQ) or '0')
local after = tonumber(ARGV[7])
if after < 0 then after = head end
if after > head then
  -- Redis lost this session's counter (a restart without persistence): continue numbering
  -- after what the client has seen, so its seq never goes backwards.
  redis.call('SET', SEQ, ARGV[7], 'EX', SEQ_TTL)
  head = after
end
local events = {}
if after < head then
  for _, row in ipairs(redis.call('XRANGE', LOG, (after + 1) .. '-0', '+')) do
    events[#events + 1] = row[2][2]
  end
end
return {after, events, redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(1e12'), ROUTED or ''}
"""
)

# ARGV[6]: instance. Stops routing to this instance unless another took over.
DETACH = (
    EMIT
    + r"""
if ROUTED == ARGV[6] then redis.call('DEL', ROUTE) end
return 0
"""
)

# KEYS[4]: jobs. ARGV[6]: job id. The job starts over for this session (a dead letter retried),
# so its events are told again.
FORGET = (
    EMIT
    + r"""
redis.call('ZREM', KEYS[4], ARGV[6])
return 0
"""
)
