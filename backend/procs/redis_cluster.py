"""A real local Redis Cluster (3 primaries, one replica each) as child processes, for what only a
real cluster shows (keys on several primaries, MOVED, failovers under load). Synchronous."""

import os
import shutil
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from backend.procs.child import Child, ChildError, terminate
from backend.procs.redis_server import INSTALL_HINT, find_redis_server, free_port, ping

SLOTS = 16384
BUS_OFFSET = 10000  # a node's cluster bus listens on its port + 10000
PORT_LIMIT = 55000  # node ports stay below this, so that port + 10000 is a valid, free port too
NO_RETRY = Retry(NoBackoff(), 0)  # a dead node must fail a check at once, not after 3 retries


class RedisClusterError(RuntimeError):
    """The cluster would not form or heal in time; the message ends with the nodes' log tails."""


@dataclass(frozen=True, order=True)
class Node:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Shard:
    primary: Node
    replicas: tuple[Node, ...]
    slots: tuple[tuple[int, int], ...]


def cluster_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Free ports whose bus port (port + 10000) is free and valid too: `free_port` can't tell."""
    ports: list[int] = []
    for _ in range(count * 100):
        port = free_port(host)
        clash = set(ports) | {p + BUS_OFFSET for p in ports} | {p - BUS_OFFSET for p in ports}
        if port >= PORT_LIMIT or port in clash:
            continue
        try:  # binds the way redis-server does (SO_REUSEADDR), then lets go
            socket.create_server((host, port + BUS_OFFSET)).close()
        except OSError:
            continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise RedisClusterError(f"no {count} free pairs (port, port + {BUS_OFFSET}) below {PORT_LIMIT}")


def find_redis_cli(server: str) -> str:
    """The redis-cli next to the server first, so both come from the same Redis release."""
    search = [str(Path(server).parent), os.environ.get("PATH", os.defpath)]
    found = shutil.which("redis-cli", path=os.pathsep.join(search))
    if found is None:
        raise RedisClusterError(f"no redis-cli by {server} or on PATH: install redis-tools")
    return found


def parse_nodes(text: str) -> list[Shard]:
    """Shards from a CLUSTER NODES reply. Replicas flagged `fail` are left out (a dead replica
    serves nobody); a dead primary stays until a replica takes its slots, as it still owns them."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    addresses = {f[0]: f[1].split("@")[0].rpartition(":") for f in lines}  # id: host, :, port
    nodes = {node_id: Node(host, int(port)) for node_id, (host, _, port) in addresses.items()}
    failed = {f[0] for f in lines if "fail" in f[2].split(",")}
    shards = []
    for fields in lines:
        ranges = [s.split("-") for s in fields[8:] if not s.startswith("[")]  # [..] = migrating
        if "master" not in fields[2].split(",") or not ranges:
            continue
        replicas = (nodes[f[0]] for f in lines if f[3] == fields[0] and f[0] not in failed)
        slots = tuple((int(r[0]), int(r[-1])) for r in ranges)
        shards.append(Shard(nodes[fields[0]], tuple(sorted(replicas)), slots))
    return sorted(shards, key=lambda shard: shard.slots)


@dataclass
class LocalCluster:
    """Cluster nodes on 127.0.0.1, each with its own directory, nodes.conf and log, run through
    `backend.procs.child` so they die with whoever started them. The node timeout defaults to
    1 s (Redis' default is 15 s), so a replica replaces a killed primary within seconds."""

    directory: Path
    shard_count: int = 3
    replicas_per_shard: int = 1
    node_timeout_ms: int = 1000
    appendonly: bool = False
    binary: str | None = None
    host: str = "127.0.0.1"
    ports: list[int] = field(default_factory=list)
    children: dict[int, Child] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.ports[0]}/0"

    def start(self, timeout: float = 20.0) -> list[str]:
        """Starts the nodes, joins them into one cluster and waits until it serves every slot."""
        self.binary = self.binary or find_redis_server()
        if self.binary is None:
            raise RedisClusterError(f"no redis-server found: {INSTALL_HINT}")
        cli = find_redis_cli(self.binary)
        self.ports = cluster_ports(self.shard_count * (1 + self.replicas_per_shard), self.host)
        try:
            self._launch(self.ports, timeout)
            self._create(cli, timeout)
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return [f"redis://{self.host}:{port}/0" for port in self.ports]

    def _launch(self, ports: list[int], timeout: float) -> None:
        """Starts the nodes all at once, then waits until each answers PING."""
        assert self.binary is not None, "start() finds the binary"
        for port in ports:
            node_dir = (self.directory / f"node-{port}").resolve()
            node_dir.mkdir(parents=True, exist_ok=True)
            argv = [
                self.binary, "--bind", self.host, "--port", str(port), "--dir", str(node_dir),
                "--cluster-enabled", "yes", "--cluster-config-file", str(node_dir / "nodes.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                "--repl-diskless-sync-delay", "0",  # a replica syncs at once, not 5 s later
                "--logfile", str(node_dir / "redis.log"), "--protected-mode", "yes",
            ]  # fmt: skip
            self.children[port] = Child(f"redis-{port}", argv, node_dir / "redis.log")
            self.children[port].start(dict(os.environ))
        for port in ports:
            try:
                self.children[port].wait_ready(partial(ping, self.host, port), timeout, "up")
            except ChildError as exc:
                raise RedisClusterError(f"cluster node {port} did not start: {exc}") from None

    def _create(self, cli: str, timeout: float) -> None:
        """`--cluster create` hands out the slots and pairs each replica with a primary."""
        replicas = ["--cluster-replicas", str(self.replicas_per_shard), "--cluster-yes"]
        argv = [cli, "--cluster", "create", *(f"{self.host}:{p}" for p in self.ports), *replicas]
        creator = Child("redis-cli --cluster create", argv, self.directory / "create.log")
        try:
            creator.start(dict(os.environ)).wait_ready(lambda: creator.exited, timeout, "done")
        except ChildError as exc:
            creator.kill()
            raise RedisClusterError(f"cluster create hung: {exc}") from None
        if creator.returncode != 0:
            raise RedisClusterError(f"cluster create failed: {creator.log_tail()}")

    def _call(self, port: int, *command: str) -> Any:
        """A fresh connection per command, as nodes die; raw replies, parsed here, not by redis."""
        options: dict[str, Any] = {"decode_responses": True, "socket_timeout": 2, "retry": NO_RETRY}
        with redis.Redis(self.host, port, **options) as client:
            client.response_callbacks.clear()
            return client.execute_command(*command)

    def _field(self, port: int, key: str, *command: str) -> str | None:
        """One `key:value` line of INFO replication, or of the `command` given (CLUSTER INFO)."""
        lines = str(self._call(port, *(command or ("INFO", "replication")))).splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line).get(key)

    def live_ports(self) -> list[int]:
        return [port for port, child in self.children.items() if child.is_running]

    def shards(self, port: int | None = None) -> list[Shard]:
        """The topology as one node (by default the first that answers PING) sees it."""
        answering = [p for p in self.live_ports() if ping(self.host, p)] if port is None else [port]
        if not answering:
            raise RedisClusterError(f"no cluster node answers:\n{self.log_tails()}")
        return parse_nodes(str(self._call(answering[0], "CLUSTER", "NODES")))

    def primaries(self) -> list[Node]:
        return [shard.primary for shard in self.shards()]

    def replicas(self) -> list[Node]:
        return [replica for shard in self.shards() for replica in shard.replicas]

    def node_for_slot(self, slot: int) -> Node:
        shard = next((s for s in self.shards() if any(a <= slot <= b for a, b in s.slots)), None)
        if shard is None:
            raise RedisClusterError(f"no primary serves slot {slot}")
        return shard.primary

    def is_healthy(self) -> bool:
        """Every live node says cluster_state:ok, sees the same shards (all slots, every live
        node in one), every primary answers (after a SIGKILL the others say `ok` until they
        notice) and every replica's link is up."""
        live = self.live_ports()
        views = [self.shards(port) for port in live]
        if not views or any(view != views[0] for view in views):
            return False
        states = {self._field(port, "cluster_state", "CLUSTER", "INFO") for port in live}
        covered = {slot for s in views[0] for a, b in s.slots for slot in range(a, b + 1)}
        links = {self._field(r.port, "master_link_status") for s in views[0] for r in s.replicas}
        placed = {n.port for s in views[0] for n in (s.primary, *s.replicas)}
        up = all(ping(s.primary.host, s.primary.port) for s in views[0]) and placed == set(live)
        return up and states == {"ok"} and len(covered) == SLOTS and links <= {"up"}

    def wait_healthy(self, timeout: float = 15.0) -> float:
        """Seconds until `is_healthy()`: after a SIGKILL, until the failover is done and agreed."""
        return self._wait(self.is_healthy, timeout, "healthy")

    def _wait(self, condition: Callable[[], bool], timeout: float, what: str) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with suppress(redis.RedisError):  # a node is down or still loading: not there yet
                if condition():
                    return time.monotonic() - started
            time.sleep(0.05)
        raise RedisClusterError(f"cluster not {what} after {timeout:g}s:\n{self.log_tails()}")

    def failover(self, primary_port: int, force: bool = False, timeout: float = 10.0) -> Node:
        """CLUSTER FAILOVER on one of the primary's replicas, which becomes the primary. Without
        FORCE the two hand over in step, losing no write; FORCE does not ask the primary."""
        shard = next((s for s in self.shards() if s.primary.port == primary_port), None)
        if shard is None or not shard.replicas:
            raise RedisClusterError(f"{self.host}:{primary_port} is not a primary with a replica")
        replica = shard.replicas[0]
        self._call(replica.port, "CLUSTER", "FAILOVER", *(["FORCE"] if force else []))
        self._wait(lambda: self._field(replica.port, "role") == "master", timeout, "failed over")
        return replica

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crash would: its replica takes over after the node timeout."""
        self.children[port].kill()

    def restart(self, port: int, timeout: float = 10.0) -> None:
        """Starts a node with its nodes.conf, so it rejoins (a replaced primary as a replica)."""
        self._launch([port], timeout)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to every node at once, then SIGKILL whatever is still running after `grace`."""
        terminate(self.children.values(), grace)

    def log_tails(self, lines: int = 5) -> str:
        return "\n".join(f"--- node {p}\n{c.log_tail(lines)}" for p, c in self.children.items())
