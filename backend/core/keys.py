"""Every Redis key and channel name Courier uses, built in one place from the configured prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str

    def consumers(self, kind: str) -> str:
        """Sorted set of consumer ids of one kind, scored by their last heartbeat (unix time)."""
        return f"{self.prefix}consumers:{kind}"

    def consumer(self, consumer_id: str) -> str:
        """Hash describing one consumer process (kind, host, pid, state, counters)."""
        return f"{self.prefix}consumer:{consumer_id}"

    @property
    def stream(self) -> str:
        """The job queue: a Redis Stream read by the `workers` consumer group."""
        return f"{self.prefix}queue:stream"

    @property
    def delayed(self) -> str:
        """Sorted set of job ids waiting for a retry, scored by when they are due."""
        return f"{self.prefix}queue:delayed"

    @property
    def dead(self) -> str:
        """The dead-letter set: job ids that failed every attempt, scored by when they died."""
        return f"{self.prefix}queue:dead"

    @property
    def stats(self) -> str:
        """Hash of queue counters (enqueued, succeeded, failed, dead, cancelled)."""
        return f"{self.prefix}queue:stats"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    @property
    def job_index(self) -> str:
        """Sorted set of job ids by creation time, for browsing; ids whose job expired are
        dropped when a browse meets them."""
        return f"{self.prefix}queue:index"

    @property
    def task_stats(self) -> str:
        """Hash of per-task counters, `<task>|<counter>`: running, succeeded, failed, dead,
        cancelled, run_seconds (of the successful runs)."""
        return f"{self.prefix}queue:tasks"

    @property
    def job_feed(self) -> str:
        """A key that exists while a job console watches, and the channel that then carries
        `<id> <status>` for every job change."""
        return f"{self.prefix}queue:feed"

    @property
    def job_tail(self) -> list[str]:
        """The two KEYS every job script takes last."""
        return [self.task_stats, self.job_feed]

    @property
    def session_root(self) -> str:
        """Stem of the per-session keys `<root><session>:seq|log|route` built inside Lua."""
        return f"{self.prefix}session:"

    def session_seq(self, session: str) -> str:
        return f"{self.session_root}{session}:seq"

    def session_log(self, session: str) -> str:
        return f"{self.session_root}{session}:log"

    def session_route(self, session: str) -> str:
        """Which web instance holds the session's socket now (absent while disconnected)."""
        return f"{self.session_root}{session}:route"

    @property
    def instance_root(self) -> str:
        return f"{self.prefix}instance:"

    def instance(self, instance_id: str) -> str:
        """The one channel a web process subscribes to: events for the sessions it holds."""
        return f"{self.instance_root}{instance_id}"

    @property
    def control(self) -> str:
        """Channel that tells consumers to cancel a job (and, later, to pause or resume)."""
        return f"{self.prefix}control"

    def topic(self, topic: str) -> str:
        """A pub/sub topic channel: what is published here reaches the subscribers listening."""
        return f"{self.prefix}pubsub:{topic}"

    @property
    def topics(self) -> str:
        """The pattern subscribers listen to: every topic."""
        return f"{self.prefix}pubsub:*"

    @property
    def pubsub_stats(self) -> str:
        """Hash of pub/sub counters (published, delivered, lost)."""
        return f"{self.prefix}pubsub-stats"

    def room_presence(self, room: str) -> str:
        """Sorted set of the sessions in a room, scored by their web process's last refresh."""
        return f"{self.prefix}room:{room}:presence"

    def room_names(self, room: str) -> str:
        """Hash of session -> display name for a room's members."""
        return f"{self.prefix}room:{room}:names"

    def room_history(self, room: str) -> str:
        """List of a room's last chat messages, newest first."""
        return f"{self.prefix}room:{room}:history"

    @property
    def rooms(self) -> str:
        """Sorted set of rooms by last activity, for the room picker."""
        return f"{self.prefix}rooms"

    @property
    def paused(self) -> str:
        """Hash of consumer id (or `*` for all) -> "1" paused / "0" running."""
        return f"{self.prefix}paused"

    @property
    def latencies(self) -> str:
        """List of recent "<finished> <seconds>" job latencies, newest first (capped)."""
        return f"{self.prefix}queue:latencies"

    @property
    def latency_histogram(self) -> str:
        """Hash of job latency bucket counts (by upper bound), `sum` and `count`: never reset."""
        return f"{self.prefix}queue:latency-histogram"

    @property
    def samples(self) -> str:
        """List of dashboard samples (JSON), newest first, one every few seconds."""
        return f"{self.prefix}metrics:samples"

    def sample_slot(self, slot: int) -> str:
        """Claimed by the one web process that takes the sample for this time slot."""
        return f"{self.prefix}metrics:slot:{slot}"

    def page_cursor(self, session: str) -> str:
        """The last event seq a browser page rendered, so a reconnecting page gets the rest."""
        return f"{self.session_root}{session}:rendered"
