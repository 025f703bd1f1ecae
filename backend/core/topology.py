"""What Redis Courier runs on, as the dashboard and the lab show it: one server, or a cluster
with its primaries, the slots each owns and its replicas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from backend.core.connection import is_cluster


class Primary(BaseModel):
    address: str = Field(description="host:port")
    slots: int = Field(description="How many of the 16,384 hash slots it owns")
    replicas: int
    used_memory: str
    connected_clients: int


class Topology(BaseModel):
    mode: Literal["single", "cluster"]
    version: str
    used_memory: str = Field(description="Of the single server, or summed over the primaries")
    connected_clients: int = Field(description="Summed over the primaries on a cluster")
    primaries: list[Primary] = Field(default_factory=list, description="Empty on one server")

    @property
    def summary(self) -> str:
        if self.mode == "single":
            return f"one Redis {self.version}"
        return f"Redis Cluster {self.version}, {len(self.primaries)} primaries"


def redis_shape(redis: Redis) -> dict[str, Any]:
    """Single or cluster, and how many primaries, from what the client already knows."""
    if not is_cluster(redis):
        return {"redis_mode": "single", "redis_primaries": 1}
    primaries = redis.get_primaries()  # type: ignore[attr-defined]
    return {"redis_mode": "cluster", "redis_primaries": len(primaries)}


async def read_topology(redis: Redis) -> Topology:
    """Raises RedisError when Redis cannot be asked."""
    if not is_cluster(redis):
        info: Any = await redis.info()
        return Topology(
            mode="single",
            version=str(info.get("redis_version", "?")),
            used_memory=str(info.get("used_memory_human", "?")),
            connected_clients=int(info.get("connected_clients", 0)),
        )
    return await _cluster_topology(redis)  # type: ignore[arg-type]


async def _cluster_topology(cluster: RedisCluster) -> Topology:
    await cluster.initialize()
    infos: dict[str, Any] = await cluster.info(target_nodes=RedisCluster.PRIMARIES)
    slots: dict[str, int] = {}
    replicas: dict[str, int] = {}
    for nodes in cluster.nodes_manager.slots_cache.values():
        if nodes:  # the slot's primary, then its replicas
            slots[nodes[0].name] = slots.get(nodes[0].name, 0) + 1
            replicas[nodes[0].name] = len(nodes) - 1
    primaries = [
        Primary(
            address=name,
            slots=slots.get(name, 0),
            replicas=replicas.get(name, 0),
            used_memory=str(info.get("used_memory_human", "?")),
            connected_clients=int(info.get("connected_clients", 0)),
        )
        for name, info in sorted(infos.items())
    ]
    used = sum(int(info.get("used_memory", 0)) for info in infos.values())
    first: dict[str, Any] = next(iter(infos.values()), {})
    return Topology(
        mode="cluster",
        version=str(first.get("redis_version", "?")),
        used_memory=_human(used),
        connected_clients=sum(p.connected_clients for p in primaries),
        primaries=primaries,
    )


def _human(size: int) -> str:
    """Bytes as Redis's INFO writes them (1.23M)."""
    value = float(size)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.2f}{unit}" if unit != "B" else f"{size}B"
        value /= 1024
    return f"{size}B"
