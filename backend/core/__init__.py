"""The Redis data model: keys, Lua scripts, the queue, pub/sub, rooms, heartbeats, stats."""
