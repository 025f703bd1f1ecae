"""What a bench was asked to do, what it starts for that, and the time limit every run keeps to."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

TIME_LIMIT = 120.0  # seconds for start-up and every phase; stopping adds a few more at most
UNTHROTTLED = "1000000"  # a rate or burst far above anything a bench sends
SLOW_MEMBER_SETTINGS = {"COURIER_SEND_BUFFER_BYTES": "16384", "COURIER_OUTBOX_MAX": "100"}


@dataclass(frozen=True)
class Plan:
    """The processes a bench starts. `settings` are extra COURIER_* variables for every child,
    for limits that would otherwise throttle that bench's traffic."""

    webs: int = 1
    workers: int = 0
    concurrency: int = 16
    redis_url: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    redis_cluster: bool = False  # a Redis Cluster: its own local one unless given a URL
    appendfsync: str | None = None  # its own redis-server's AOF fsync policy; None: no AOF
    sockets: int = 0  # client sockets the bench opens: each a file descriptor, here and there

    def describe(self) -> str:
        """The processes as progress names them: `redis-server, 1 web, 1 worker(s)`, or
        `2 web processes` for web processes alone."""
        own = "a 6-node Redis Cluster, " if self.redis_cluster else "redis-server, "
        if self.appendfsync and not self.redis_cluster:
            own = f"redis-server (AOF, appendfsync {self.appendfsync}), "
        redis = "" if self.redis_url else own
        if self.webs > 1 and not self.workers:
            return f"{redis}{self.webs} web processes"
        return f"{redis}{self.webs} web, {self.workers} worker(s)"


@dataclass(frozen=True)
class QueueBench:
    """What `courier bench queue` was asked to do."""

    connections: int = 4
    jobs: int = 20_000
    latency_jobs: int = 2_000
    workers: int = 1
    concurrency: int = 16
    redis_url: str | None = None
    as_json: bool = False
    redis_cluster: bool = False
    appendfsync: str | None = None  # its own redis-server with AOF and this fsync policy

    def plan(self) -> Plan:
        return Plan(
            1,
            self.workers,
            self.concurrency,
            self.redis_url,
            redis_cluster=self.redis_cluster,
            appendfsync=self.appendfsync,
        )

    def command(self) -> str:
        """The command that repeats this run, every value spelled out (password hidden)."""
        argv = ["courier", "bench", "queue", "--connections", str(self.connections)]
        argv += ["--jobs", str(self.jobs), "--latency-jobs", str(self.latency_jobs)]
        argv += ["--workers", str(self.workers), "--concurrency", str(self.concurrency)]
        if self.appendfsync:
            argv += ["--appendfsync", self.appendfsync]
        return _joined(argv, self.redis_url, self.as_json, self.redis_cluster)


@dataclass(frozen=True)
class FanoutBench:
    """What `courier bench fanout` was asked to do."""

    members: int = 200
    messages: int = 500
    redis_url: str | None = None
    as_json: bool = False
    redis_cluster: bool = False
    not_reading: int = 0  # percent of the members that join and then read nothing

    def plan(self) -> Plan:
        """Two web processes, so a room spans processes as it does behind a load balancer; the
        chat limits are lifted, since one sender sends far faster than a person types. With
        members not reading, their sockets get small buffers (SLOW_MEMBER_SETTINGS), so they
        fill, and are closed, within the run."""
        chat = {"COURIER_CHAT_RATE_LIMIT": UNTHROTTLED, "COURIER_CHAT_BURST": UNTHROTTLED}
        if self.not_reading:
            chat |= SLOW_MEMBER_SETTINGS
        return Plan(
            2,
            0,
            redis_url=self.redis_url,
            settings=chat,
            redis_cluster=self.redis_cluster,
            sockets=self.members,
        )

    def command(self) -> str:
        """The command that repeats this run, every value spelled out (password hidden)."""
        argv = ["courier", "bench", "fanout", "--members", str(self.members)]
        argv += ["--messages", str(self.messages)]
        if self.not_reading:
            argv += ["--not-reading", str(self.not_reading)]
        return _joined(argv, self.redis_url, self.as_json, self.redis_cluster)


@dataclass(frozen=True)
class ConnectionsBench:
    """What `courier bench connections` was asked to do: `sockets` idle sockets on one web
    process, each in one of `rooms` rooms (0: none)."""

    sockets: int = 1_000
    rooms: int = 0
    as_json: bool = False

    def plan(self) -> Plan:
        return Plan(1, 0, sockets=self.sockets)

    def command(self) -> str:
        argv = ["courier", "bench", "connections", "--sockets", str(self.sockets)]
        if self.rooms:
            argv += ["--rooms", str(self.rooms)]
        return _joined(argv, None, self.as_json, False)


SCENARIOS = ("redis_restart", "redis_kill", "worker_kill", "web_kill")
FAULT_VISIBILITY = 5.0  # seconds: COURIER_VISIBILITY_TIMEOUT in every fault scenario


@dataclass(frozen=True)
class FaultsBench:
    """What `courier bench faults` was asked to do."""

    jobs: int = 2_000
    only: tuple[str, ...] = SCENARIOS
    as_json: bool = False

    def plan(self) -> Plan:
        """Two web processes (one can die while the other takes the session over) and two
        workers (one can die while the other takes its jobs over), on a Redis that fsyncs each
        write. A short visibility timeout keeps a take-over, and so each scenario, short."""
        visibility = {"COURIER_VISIBILITY_TIMEOUT": f"{FAULT_VISIBILITY:g}"}
        return Plan(2, 2, settings=visibility, appendfsync="always")

    def command(self) -> str:
        argv = ["courier", "bench", "faults", "--jobs", str(self.jobs)]
        if self.only != SCENARIOS:
            argv += ["--only", ",".join(self.only)]
        return _joined(argv, None, self.as_json, False)


PEER_QUEUES = ("arq", "saq", "rq", "celery")
PEER_CHOICES = ("queue", "fanout", *PEER_QUEUES, "broadcaster")


@dataclass(frozen=True)
class PeersBench:
    """What `courier bench peers` was asked to do. `only` names workloads (queue, fanout) or
    peers; Courier runs in every workload that runs, as what the others are compared with."""

    jobs: int = 5_000
    latency_jobs: int = 500
    members: int = 200
    messages: int = 500
    seconds: float = 20.0  # a peer's phase stops sending after this long
    only: tuple[str, ...] = PEER_CHOICES
    install: bool = False  # make the peers' environments that are missing first
    as_json: bool = False

    def queues(self) -> tuple[str, ...]:
        """The queue peers to run, in the order of PEER_QUEUES."""
        return tuple(p for p in PEER_QUEUES if p in self.only or "queue" in self.only)

    def fanout(self) -> bool:
        return "fanout" in self.only or "broadcaster" in self.only

    def command(self) -> str:
        argv = ["courier", "bench", "peers", "--jobs", str(self.jobs)]
        argv += ["--latency-jobs", str(self.latency_jobs), "--members", str(self.members)]
        argv += ["--messages", str(self.messages), "--seconds", f"{self.seconds:g}"]
        if self.only != PEER_CHOICES:
            argv += ["--only", ",".join(self.only)]
        if self.install:
            argv.append("--install")
        return _joined(argv, None, self.as_json, False)


def _joined(argv: list[str], redis_url: str | None, as_json: bool, cluster: bool) -> str:
    if cluster:
        argv.append("--redis-cluster")
    if redis_url:
        argv += ["--redis-url", hide_password(redis_url)]
    if as_json:
        argv.append("--json")
    return shlex.join(argv)


def hide_password(url: str) -> str:
    """The URL with its password as `***`, fit for a report or an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
