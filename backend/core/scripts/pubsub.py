"""Lua for a pub/sub send: publish to whoever listens, count it, and tell the sender."""

from __future__ import annotations

from backend.core.scripts.sessions import EMIT

# KEYS: stats. ARGV[5..]: channel, payload, session, id, ref (JSON). Publishes to whoever
# listens right now and tells the sender how many that was.
PUBLISH = (
    EMIT
    + r"""
local receivers = redis.call('PUBLISH', ARGV[5], ARGV[6])
redis.call('HINCRBY', KEYS[1], 'published', 1)
redis.call('HINCRBY', KEYS[1], 'delivered', receivers)
if receivers == 0 then redis.call('HINCRBY', KEYS[1], 'lost', 1) end
emit(ARGV[7], '{"type":"accepted","ref":' .. ARGV[9] .. ',"id":' .. cjson.encode(ARGV[8])
  .. ',"mode":"pubsub","receivers":' .. receivers .. '}', true)
return receivers
"""
)
