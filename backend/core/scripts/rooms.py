"""Lua for chat rooms: membership, presence, history and the room's own event stream. Every key,
and the room's channel, share the room's hash tag, passed in KEYS (see `keys.RoomKeys`).

Each room event gets the room's next offset, goes into the room's stream (ids `<offset>-0`, so
a member coming back reads what it missed), and is published once on the room's channel; each
web process with members in the room fans it out to them. The epoch names the stream's
lifetime: it changes if Redis loses the room, so old offsets are known not to apply.
"""

from __future__ import annotations

# KEYS: meta, stream, members, names, presence, history, channel. ARGV[1..5]: publish command
# (PUBLISH, or SPUBLISH on a cluster), room, an epoch to use if the room has none, now, stream
# length cap.
ROOM = r"""
local META, STREAM, MEMBERS, NAMES = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local PRESENCE, HISTORY, CHANNEL = KEYS[5], KEYS[6], KEYS[7]
local PUB, ROOM, NEW_EPOCH, NOW, STREAM_MAX = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
-- A room's keys live a week past its last activity.
local ROOM_TTL = 7 * 86400

local function epoch()
  local known = redis.call('HGET', META, 'epoch')
  if known then return known end
  redis.call('HSET', META, 'epoch', NEW_EPOCH)
  redis.call('DEL', STREAM)  -- offsets start over: nothing before belongs to this epoch
  return NEW_EPOCH
end

local function offset() return tonumber(redis.call('HGET', META, 'offset') or '0') end

-- body: a JSON object without the room fields, e.g. {"type":"left","names":["ann"]}
local function publish(body)
  local ep = epoch()
  local at = redis.call('HINCRBY', META, 'offset', 1)
  local event = '{"room":' .. cjson.encode(ROOM) .. ',"offset":' .. at .. ',"epoch":'
    .. cjson.encode(ep) .. ',' .. string.sub(body, 2)
  redis.pcall('XADD', STREAM, 'MAXLEN', '~', STREAM_MAX, at .. '-0', 'e', event)
  redis.call(PUB, CHANNEL, event)
  return at, event
end

local function person(kind, name)
  return '{"type":"' .. kind .. '","names":[' .. cjson.encode(name) .. ']}'
end

local function drop(session)
  local name = redis.call('HGET', MEMBERS, session)
  redis.call('ZREM', PRESENCE, session)
  if not name then return false end
  redis.call('HDEL', MEMBERS, session)
  if redis.call('HGET', NAMES, name) == session then redis.call('HDEL', NAMES, name) end
  local _, event = publish(person('left', name))
  return event
end

local function keep()
  for i = 1, 6 do redis.call('EXPIRE', KEYS[i], ROOM_TTL) end
end
"""

# ARGV[6..]: stale seconds, history length, then for each joiner: session, name, offset to
# recover after ('' none), its epoch. Joiners that come to a web process together join in one
# call, in order, and share one view of the room as of the last of their joins: the member list
# and history are read once, not once per joiner (a room filling with M members at once would
# otherwise cost M reads of up to M names). A name is taken while its holder's web process keeps
# refreshing it. Returns {offset, epoch, names, history, then per joiner: 'taken' or
# {recovered, missed events}}.
JOIN = (
    ROOM
    + r"""
local stale, history_len = tonumber(ARGV[6]), tonumber(ARGV[7])
local function join(session, name)
  local holder = redis.call('HGET', NAMES, name)
  if holder and holder ~= session then
    local seen = tonumber(redis.call('ZSCORE', PRESENCE, holder))
    if seen and seen > NOW - stale then return false end
    drop(holder)
  end
  local before = redis.call('HGET', MEMBERS, session)
  if before and before ~= name then redis.call('HDEL', NAMES, before) end
  redis.call('HSET', MEMBERS, session, name)
  redis.call('HSET', NAMES, name, session)
  redis.call('ZADD', PRESENCE, NOW, session)
  if before ~= name then publish(person('joined', name)) end
  return true
end

local function missed(since, since_epoch, ep, now_at)
  if not (since and since_epoch == ep) then return {0, {}} end
  local first = redis.call('XRANGE', STREAM, '-', '+', 'COUNT', 1)[1]
  local oldest = first and tonumber(string.match(first[1], '^(%d+)')) or (now_at + 1)
  if since + 1 < oldest and since < now_at then return {0, {}} end
  local events = {}
  if since < now_at then
    for _, row in ipairs(redis.call('XRANGE', STREAM, (since + 1) .. '-0', now_at .. '-0')) do
      events[#events + 1] = row[2][2]
    end
  end
  return {1, events}
end

local ep = epoch()
local joined = {}
for i = 8, #ARGV, 4 do joined[#joined + 1] = join(ARGV[i], ARGV[i + 1]) end
keep()
local now_at = offset()
local reply = {now_at, ep, redis.call('HVALS', MEMBERS),
  redis.call('LRANGE', HISTORY, 0, history_len - 1)}
for n, ok in ipairs(joined) do
  local i = 8 + (n - 1) * 4
  reply[#reply + 1] = ok and missed(tonumber(ARGV[i + 2]), ARGV[i + 3], ep, now_at) or 'taken'
end
return reply
"""
)

# ARGV[6]: session. Returns the `left` event (the leaver is told too), or false if it was not
# a member.
LEAVE = (
    ROOM
    + r"""
return drop(ARGV[6])
"""
)

# ARGV[6..]: session, message id, text, ts, history length. Returns the message's offset, or -1
# when the session is not a member.
CHAT = (
    ROOM
    + r"""
local name = redis.call('HGET', MEMBERS, ARGV[6])
if not name then return -1 end
local body = '{"type":"chat","id":' .. cjson.encode(ARGV[7]) .. ',"name":' .. cjson.encode(name)
  .. ',"text":' .. cjson.encode(ARGV[8]) .. ',"ts":' .. ARGV[9] .. '}'
local at, event = publish(body)
redis.call('LPUSH', HISTORY, event)
redis.call('LTRIM', HISTORY, 0, tonumber(ARGV[10]) - 1)
keep()
return at
"""
)

# ARGV[6]: stale seconds. Drops members whose web process stopped refreshing them, and tells the
# others. Returns how many went.
SWEEP = (
    ROOM
    + r"""
local gone = redis.call('ZRANGEBYSCORE', PRESENCE, '-inf', NOW - tonumber(ARGV[6]))
for _, session in ipairs(gone) do drop(session) end
return #gone
"""
)

# ARGV[6..]: (session, name) pairs: this web process's members. Marks them alive; any that a
# sweep dropped by mistake (this process stalled past the timeout) come back, and everyone is
# told. Returns how many came back.
REFRESH = (
    ROOM
    + r"""
local back = 0
for i = 6, #ARGV, 2 do
  local session, name = ARGV[i], ARGV[i + 1]
  if not redis.call('HGET', MEMBERS, session) then
    local holder = redis.call('HGET', NAMES, name)
    if not holder or holder == session then
      redis.call('HSET', MEMBERS, session, name)
      redis.call('HSET', NAMES, name, session)
      publish(person('joined', name))
      back = back + 1
    end
  end
  if redis.call('HGET', MEMBERS, session) then redis.call('ZADD', PRESENCE, NOW, session) end
end
keep()
return back
"""
)
