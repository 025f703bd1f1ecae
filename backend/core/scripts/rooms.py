"""Lua scripts for chat rooms: presence, history and fan-out in one step.

Each room message is emitted to every member's session (numbered, logged, routed to the member's
web process) inside one script, so all members see messages in the same order. Members whose web
process stopped refreshing them are dropped whenever a script reads the member list.
"""

from __future__ import annotations

from backend.core.scripts.sessions import EMIT

ROOM = (
    EMIT
    + r"""
local function live_members(presence, names, now, stale)
  local gone = redis.call('ZRANGEBYSCORE', presence, '-inf', now - stale)
  for _, s in ipairs(gone) do
    redis.call('ZREM', presence, s)
    redis.call('HDEL', names, s)
  end
  return redis.call('ZRANGE', presence, 0, -1), #gone
end

local function presence_body(room, names, sessions)
  local list = {}
  for _, s in ipairs(sessions) do list[#list + 1] = redis.call('HGET', names, s) end
  table.sort(list)
  local members = #list == 0 and '[]' or cjson.encode(list)
  return '{"type":"presence","room":' .. cjson.encode(room) .. ',"members":' .. members .. '}'
end

local function broadcast(sessions, body)
  for _, s in ipairs(sessions) do emit(s, body, true) end
end

-- A room's keys live a week past its last activity; the room index keeps the newest 1000.
local ROOM_TTL, ROOMS_KEPT = 7 * 86400, 1000
local function keep_room(keys, now)
  for i = 1, 3 do redis.call('EXPIRE', keys[i], ROOM_TTL) end
  redis.call('ZREMRANGEBYRANK', keys[4], 0, -(ROOMS_KEPT + 1))
end
"""
)

# KEYS: presence, names, history, rooms. ARGV[5..]: room, session, name, now, stale, history max.
JOIN = (
    ROOM
    + r"""
local presence, names, history, rooms = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local room, session, name = ARGV[5], ARGV[6], ARGV[7]
local now, stale = tonumber(ARGV[8]), tonumber(ARGV[9])
local sessions = live_members(presence, names, now, stale)
for _, s in ipairs(sessions) do
  if s ~= session and redis.call('HGET', names, s) == name then return 'taken' end
end
redis.call('ZADD', presence, now, session)
redis.call('HSET', names, session, name)
redis.call('ZADD', rooms, now, room)
keep_room(KEYS, now)
local kept = redis.call('LRANGE', history, 0, tonumber(ARGV[10]) - 1)
local ordered = {}
for i = #kept, 1, -1 do ordered[#ordered + 1] = kept[i] end
emit(session, '{"type":"history","room":' .. cjson.encode(room) .. ',"messages":['
  .. table.concat(ordered, ',') .. ']}', true)
sessions = redis.call('ZRANGE', presence, 0, -1)
broadcast(sessions, presence_body(room, names, sessions))
return 'ok'
"""
)

# KEYS: presence, names. ARGV[5..]: room, session, now, stale. The leaver is told too.
LEAVE = (
    ROOM
    + r"""
local presence, names = KEYS[1], KEYS[2]
local room, session = ARGV[5], ARGV[6]
if redis.call('ZREM', presence, session) == 0 then return 0 end
redis.call('HDEL', names, session)
local sessions = live_members(presence, names, tonumber(ARGV[7]), tonumber(ARGV[8]))
local body = presence_body(room, names, sessions)
broadcast(sessions, body)
emit(session, body, true)
return 1
"""
)

# KEYS: presence, names, history, rooms. ARGV[5..]: room, session, id, text, ts, now, stale,
# history max, ref (JSON). Returns the number of members reached, or -1 if not a member.
CHAT = (
    ROOM
    + r"""
local presence, names, history, rooms = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local room, session, id, text, ts = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local now, stale = tonumber(ARGV[10]), tonumber(ARGV[11])
local name = redis.call('HGET', names, session)
if not name or not redis.call('ZSCORE', presence, session) then return -1 end
local body = '{"type":"chat","room":' .. cjson.encode(room) .. ',"id":' .. cjson.encode(id)
  .. ',"name":' .. cjson.encode(name) .. ',"text":' .. cjson.encode(text) .. ',"ts":' .. ts .. '}'
redis.call('LPUSH', history, body)
redis.call('LTRIM', history, 0, tonumber(ARGV[12]) - 1)
redis.call('ZADD', rooms, now, room)
keep_room(KEYS, now)
local mine = string.sub(body, 1, -2) .. ',"mine":true,"ref":' .. ARGV[13] .. '}'
local sessions, gone = live_members(presence, names, now, stale)
if gone > 0 then broadcast(sessions, presence_body(room, names, sessions)) end
for _, s in ipairs(sessions) do emit(s, s == session and mine or body, true) end
return #sessions
"""
)

# KEYS: presence, names. ARGV[5..]: room, now, stale. Drops members of dead web processes and,
# if any were dropped, tells the others.
SWEEP = (
    ROOM
    + r"""
local sessions, gone = live_members(KEYS[1], KEYS[2], tonumber(ARGV[6]), tonumber(ARGV[7]))
if gone > 0 then broadcast(sessions, presence_body(ARGV[5], KEYS[2], sessions)) end
return gone
"""
)

# KEYS: presence, names, history, rooms. ARGV[5..]: room, now, then (session, name) pairs: this
# web process's members. Marks them alive; any that another process's sweep dropped (this process
# stalled past the timeout) are put back, and everyone is told.
REFRESH = (
    ROOM
    + r"""
local presence, names = KEYS[1], KEYS[2]
local returned = 0
for i = 7, #ARGV, 2 do
  if not redis.call('ZSCORE', presence, ARGV[i]) then returned = returned + 1 end
  redis.call('ZADD', presence, ARGV[6], ARGV[i])
  redis.call('HSET', names, ARGV[i], ARGV[i + 1])
end
keep_room(KEYS, ARGV[6])
if returned > 0 then
  local sessions = redis.call('ZRANGE', presence, 0, -1)
  broadcast(sessions, presence_body(ARGV[5], names, sessions))
end
return returned
"""
)
