"""The Lua scripts behind every state change of a job or a session.

Each script runs atomically in Redis, so a job's state, its place in the stream and the event
that tells its sender about it change together or not at all: no result is acknowledged before
it is stored, and no event is published that the session log lacks.

Every script that tells a session something uses `emit`, which gives the event the session's
next sequence number, appends it to the session's log (for resume) and publishes it on the
channel of the web instance holding the session's socket, if any. Because numbering and
publishing happen in one atomic step, events reach the web process in sequence order.

The first four ARGV of every script are the session context: session key root, instance channel
root, session TTL and log length cap. Session keys are derived inside the scripts, which is fine
on a single Redis (or a primary with replicas) but not on Redis Cluster.
"""
