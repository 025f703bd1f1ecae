"""`courier bench queue`: queue throughput and latency, end to end, against real processes.

A queued job costs something in every process it crosses: the client's socket, the web process
(parse, enqueue script, pub/sub fan-in, socket writes), Redis, and the worker (read, start and
settle scripts). Timing one piece alone hides where the time goes, so the bench starts the
processes the way `courier run` does (its own redis-server unless given a URL, one `courier web`,
W `courier worker`), drives them over `/ws` exactly as a client would, and stops all of them.

Processes are started, watched and stopped synchronously, outside any event loop; each phase's
WebSocket client runs in its own short event loop, so CPU time can be read between phases. It
measures and reports, and asserts nothing about timings; the test suite never runs it.
"""

from backend.bench.options import QueueBench
from backend.bench.run import run_queue_bench

__all__ = ["QueueBench", "run_queue_bench"]
