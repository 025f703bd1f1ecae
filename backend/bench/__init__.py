"""`courier bench`: the app measured end to end, against real processes it starts and stops.

`queue` measures queue throughput and latency; `fanout` measures a chat room's fan-out: one
member's messages delivered to every member, across two web processes; `faults` kills and
restarts Redis, a worker and a web process under load and counts what a careful client saw. `peers`
runs the queue and fan-out workloads on Courier and then on its peers (arq, SAQ, RQ, Celery,
FastAPI + broadcaster), one after another, each peer from an environment of its own.

A message costs something in every process it crosses: the client's socket, the web process
(parse, Lua script, pub/sub fan-in, socket writes), Redis, and the worker. Timing one piece
alone hides where the time goes, so a bench starts the processes the way `courier run` does (its
own redis-server unless given a URL, `courier web`, `courier worker`), drives them over `/ws`
exactly as a client would, and stops all of them.

Processes are started, watched and stopped synchronously, outside any event loop; each phase's
WebSocket client runs in its own short event loop, so CPU time can be read between phases. A
bench measures and reports, and asserts nothing about timings (the suite runs each one small, to
check that it works). The package imports nothing itself: `courier` reads its options from
`backend.bench.arguments` on every start, and the benches load only when one runs.
"""
