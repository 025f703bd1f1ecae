"""Every Redis key and channel name Courier uses, built in one place from the configured prefix.

Keys that one Lua script touches together share a hash tag (the part in braces), so they live
in one hash slot and the script runs on Redis Cluster as on a single Redis: the queue's keys
share `{queue}`, each session's keys share `{s:<session>}`, each room's keys `{r:<room>}`. Load
spreads over a cluster's primaries by session and by room; one queue lives on one primary, as
in BullMQ. Keys outside any tag (heartbeats, pause wishes, counters) are used one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """One session's keys, all in the session's own hash slot."""

    base: str

    @property
    def seq(self) -> str:
        """The session's event counter."""
        return f"{self.base}:seq"

    @property
    def log(self) -> str:
        """Stream of the session's logged events (ids `<seq>-0`), for resume."""
        return f"{self.base}:log"

    @property
    def route(self) -> str:
        """Which web instance holds the session's socket now (absent while disconnected)."""
        return f"{self.base}:route"

    @property
    def jobs(self) -> str:
        """Sorted set: the last step of each of the session's jobs told to it (dedup), or, for a
        job whose final event went out, 1e12 + when."""
        return f"{self.base}:jobs"

    def parked(self, subject: str) -> str:
        """Replies to a pub/sub message that came before its `accepted`, held until it is sent."""
        return f"{self.base}:parked:{subject}"

    @property
    def rendered(self) -> str:
        """The last event seq a browser page rendered, so a reconnecting page gets the rest."""
        return f"{self.base}:rendered"

    @property
    def emit(self) -> list[str]:
        """The KEYS every emitting script takes first."""
        return [self.seq, self.log, self.route]


@dataclass(frozen=True, slots=True)
class RoomKeys:
    """One chat room's keys and its channel, all in the room's own hash slot."""

    base: str

    @property
    def meta(self) -> str:
        """Hash: the room's `offset` counter and `epoch` (which changes if the room's data is
        lost, so a client knows its offsets no longer apply)."""
        return f"{self.base}:meta"

    @property
    def stream(self) -> str:
        """Stream of the room's events (ids `<offset>-0`): what a rejoining member missed."""
        return f"{self.base}:stream"

    @property
    def members(self) -> str:
        """Hash of session -> display name."""
        return f"{self.base}:members"

    @property
    def names(self) -> str:
        """Hash of display name -> session: who holds a name, without scanning the members."""
        return f"{self.base}:names"

    @property
    def presence(self) -> str:
        """Sorted set of members by their web process's last refresh (unix time)."""
        return f"{self.base}:presence"

    @property
    def history(self) -> str:
        """List of the room's last chat messages, newest first."""
        return f"{self.base}:history"

    @property
    def channel(self) -> str:
        """Where the room's events are published once, for every web process with members."""
        return f"{self.base}:events"

    @property
    def all(self) -> list[str]:
        return [self.meta, self.stream, self.members, self.names, self.presence, self.history]


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    def _tagged(self, group: str) -> str:
        return f"{self.prefix}{{{group}}}"

    # Sessions and rooms ------------------------------------------------------------------------

    def session(self, session: str) -> SessionKeys:
        return SessionKeys(self._tagged(f"s:{session}"))

    def room(self, room: str) -> RoomKeys:
        return RoomKeys(self._tagged(f"r:{room}"))

    @property
    def rooms(self) -> str:
        """Sorted set of rooms by last activity, for the room picker."""
        return f"{self.prefix}rooms"

    def instance(self, instance_id: str) -> str:
        """A web process's own channel: events for the sessions it holds."""
        return f"{self.prefix}instance:{instance_id}"

    # The queue ---------------------------------------------------------------------------------

    @property
    def _queue(self) -> str:
        return self._tagged("queue")

    @property
    def stream(self) -> str:
        """The job queue: a Redis Stream read by the `workers` consumer group."""
        return f"{self._queue}:stream"

    @property
    def ready(self) -> str:
        """Sorted set of runnable job ids by rank: priority first, then arrival (`rank`)."""
        return f"{self._queue}:ready"

    @property
    def wake(self) -> str:
        """List of tokens, one pushed per job made runnable: idle workers wait on it (BLPOP)."""
        return f"{self._queue}:wake"

    @property
    def delayed(self) -> str:
        """Sorted set of job ids waiting for a retry (or their `accepted`), scored by when due."""
        return f"{self._queue}:delayed"

    @property
    def scheduled(self) -> str:
        """Sorted set of job ids sent with `delay` or `at`, scored by when they may start."""
        return f"{self._queue}:scheduled"

    @property
    def limited(self) -> str:
        """Sorted set of job ids held back by their task's rate limit, scored by next try."""
        return f"{self._queue}:limited"

    @property
    def queue_base(self) -> str:
        """Put before `job:<id>`, `rate:<task>`, `key:<key>` by scripts (same hash slot)."""
        return f"{self._queue}:"

    @property
    def dead(self) -> str:
        """The dead-letter set: job ids that failed every attempt, scored by when they died."""
        return f"{self._queue}:dead"

    @property
    def stats(self) -> str:
        """Hash of queue counters (enqueued, succeeded, failed, dead, cancelled)."""
        return f"{self._queue}:stats"

    def job(self, job_id: str) -> str:
        return f"{self._queue}:job:{job_id}"

    @property
    def job_index(self) -> str:
        """Sorted set of job ids by creation time, for browsing (a browse drops expired ones)."""
        return f"{self._queue}:index"

    @property
    def task_stats(self) -> str:
        """Hash of per-task counters `<task>|<counter>` (running, succeeded, run_seconds...)."""
        return f"{self._queue}:tasks"

    @property
    def job_feed(self) -> str:
        """A key that exists while a job console watches, and the channel that then carries
        `<id> <status>` for every job change."""
        return f"{self._queue}:feed"

    @property
    def job_tail(self) -> list[str]:
        """The two KEYS every job script takes last."""
        return [self.task_stats, self.job_feed]

    @property
    def latencies(self) -> str:
        """List of recent "<finished> <seconds>" job latencies, newest first (capped)."""
        return f"{self._queue}:latencies"

    @property
    def latency_histogram(self) -> str:
        """Hash of job latency bucket counts (by upper bound), `sum` and `count`: never reset."""
        return f"{self._queue}:latency-histogram"

    # Consumers, control, pub/sub, metrics ------------------------------------------------------

    def consumers(self, kind: str) -> str:
        """Sorted set of consumer ids of one kind, scored by their last heartbeat (unix time)."""
        return f"{self.prefix}consumers:{kind}"

    def consumer(self, consumer_id: str) -> str:
        """Hash describing one consumer process (kind, host, pid, state, counters)."""
        return f"{self.prefix}consumer:{consumer_id}"

    @property
    def paused(self) -> str:
        """Hash of consumer id (or `*` for all) -> "1" paused / "0" running."""
        return f"{self.prefix}paused"

    @property
    def control(self) -> str:
        """Channel that tells consumers to cancel a job, pause or resume, or crash (the lab)."""
        return f"{self.prefix}control"

    @property
    def topics(self) -> str:
        """The one channel of every topic (messages name theirs): one shard on a cluster."""
        return f"{self._tagged('pubsub')}:messages"

    @property
    def pubsub_stats(self) -> str:
        """Hash of pub/sub counters (published, delivered, lost)."""
        return f"{self.prefix}pubsub-stats"

    @property
    def samples(self) -> str:
        """List of dashboard samples (JSON), newest first, one every few seconds."""
        return f"{self.prefix}metrics:samples"

    def sample_slot(self, slot: int) -> str:
        """Claimed by the one web process that takes the sample for this time slot."""
        return f"{self.prefix}metrics:slot:{slot}"
