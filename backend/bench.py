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

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from websockets.asyncio.client import ClientConnection, connect

from backend.process import event_loop_factory
from backend.redis_server import RedisServer, RedisServerError, free_port
from backend.supervisor import die_with_parent

TIME_LIMIT = 120.0  # seconds for start-up and both phases; stopping adds a few more at most
START_TIMEOUT = 30.0
STOP_GRACE = 5.0
WINDOW = 256  # jobs one connection keeps outstanding in the throughput phase
WARMUP = 20  # unmeasured jobs before the latency phase's samples
RATE_LIMIT = "1000000"  # messages/s per socket: far above what the bench sends
MAX_PROBLEMS = 20

T = TypeVar("T")


class BenchError(RuntimeError):
    """The bench could not run to the end; the message says where and why."""


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

    def command(self) -> str:
        """The command that repeats this run, every value spelled out (password hidden)."""
        argv = ["courier", "bench", "queue", "--connections", str(self.connections)]
        argv += ["--jobs", str(self.jobs), "--latency-jobs", str(self.latency_jobs)]
        argv += ["--workers", str(self.workers), "--concurrency", str(self.concurrency)]
        if self.redis_url:
            argv += ["--redis-url", _hide_password(self.redis_url)]
        if self.as_json:
            argv.append("--json")
        return shlex.join(argv)


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


def _say(message: str) -> None:
    print(f"courier bench: {message}", file=sys.stderr, flush=True)


# Measurements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Latencies in milliseconds (nearest-rank percentiles)."""

    p50: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Spread | None:
        """None when there is no sample (every job failed)."""
        if not seconds:
            return None
        ordered = sorted(seconds)
        mean = sum(ordered) / len(ordered)
        p50, p99 = _rank(ordered, 0.5), _rank(ordered, 0.99)
        return cls(1000 * p50, 1000 * p99, 1000 * mean, 1000 * ordered[-1])


def _rank(ordered: list[float], quantile: float) -> float:
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


@dataclass(frozen=True)
class Throughput:
    jobs: int
    connections: int
    window: int
    seconds: float  # first send to last result
    jobs_per_second: float
    latency_ms: Spread | None  # send to result, per job, under load
    cpu_seconds: dict[str, float]  # per process and for the machine, over the whole phase


@dataclass(frozen=True)
class Latency:
    jobs: int
    warmup: int
    latency_ms: Spread | None


@dataclass(frozen=True)
class Layout:
    web: int
    workers: int
    worker_concurrency: int
    redis: str
    cpus: int
    python: str
    platform: str
    client_loop: str
    websocket_extensions: str


@dataclass
class Report:
    command: str
    date: str
    layout: Layout
    throughput: Throughput | None = None
    latency: Latency | None = None
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


class Problems:
    """Everything that went wrong, counted in full but kept to the first few messages."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.first) < MAX_PROBLEMS:
            self.first.append(message)


# The processes under test --------------------------------------------------------------------


@dataclass
class Child:
    """One `courier` process the bench started; its output goes to a log shown on failure."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        # Own session: a Ctrl-C reaches the bench, which stops the children in order.
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
            )  # fmt: skip

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:]) or "(empty log)"


@dataclass
class Stack:
    """A redis-server (unless given a URL), one web process and W workers, on a free port."""

    options: QueueBench
    directory: Path
    prefix: str = field(default_factory=lambda: f"bench-{secrets.token_hex(4)}:")
    redis: RedisServer | None = None
    redis_url: str = ""
    base_url: str = ""
    children: list[Child] = field(default_factory=list)

    def start(self, deadline: float) -> None:
        self.redis_url = _reachable(self.options.redis_url) or self._start_redis()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        python = [sys.executable, "-m", "backend.cli"]
        web = [*python, "web", "--host", "127.0.0.1", "--port", str(port)]
        worker = [*python, "worker", "--concurrency", str(self.options.concurrency)]
        self.children = [Child("web", web, self.directory / "web.log")]
        for index in range(1, self.options.workers + 1):
            name = f"worker-{index}"
            self.children.append(Child(name, worker, self.directory / f"{name}.log"))
        env = self._environment()
        for child in self.children:
            child.start(env)
        self._wait(deadline, "the web server's /readyz", self._web_ready)
        self._wait(deadline, f"{self.options.workers} live workers", self._workers_live)

    def _start_redis(self) -> str:
        self.redis = RedisServer(data_dir=self.directory / "redis", persistent=False)
        try:
            return self.redis.start(start_new_session=True, preexec_fn=die_with_parent)
        except RedisServerError as exc:
            raise BenchError(f"could not start redis-server: {exc}") from None

    def _environment(self) -> dict[str, str]:
        """The user's COURIER_* settings are left out, so every run measures the same thing."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURIER_")}
        env.update(
            COURIER_REDIS_URL=self.redis_url,
            COURIER_KEY_PREFIX=self.prefix,
            COURIER_LOG_LEVEL="warning",
            COURIER_RATE_LIMIT=RATE_LIMIT,
            PYTHONUNBUFFERED="1",
        )
        return env

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        limit = min(deadline, time.monotonic() + START_TIMEOUT)
        while not ready():
            for child in self.children:
                if child.exited:
                    raise BenchError(f"{child.name} exited during start-up:\n{child.log_tail()}")
            if time.monotonic() > limit:
                logs = "\n".join(f"--- {c.name}\n{c.log_tail()}" for c in self.children)
                raise BenchError(f"timed out waiting for {what}\n{logs}")
            time.sleep(0.05)

    def _web_ready(self) -> bool:
        return _get_json(self.base_url + "/readyz") is not None

    def _workers_live(self) -> bool:
        report = _get_json(self.base_url + "/api/queue")
        workers = report.get("workers", []) if isinstance(report, dict) else []
        live = [w for w in workers if isinstance(w, dict) and w.get("state") != "gone"]
        return len(live) >= self.options.workers

    def pids(self) -> dict[str, int]:
        """The processes whose CPU time the report shows."""
        pids = {c.name: c.process.pid for c in self.children if c.process is not None}
        if self.redis is not None and self.redis.process is not None:
            pids["redis-server"] = self.redis.process.pid
        return pids

    def redis_version(self) -> str:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            version = str(client.info("server").get("redis_version", "?"))
        except redis.RedisError as exc:
            version = f"? ({exc})"
        finally:
            client.close()
        where = "own, non-persistent" if self.redis is not None else "given by --redis-url"
        return f"redis-server {version} ({where})"

    def stop(self) -> None:
        """Web first (no new jobs), then the workers, then Redis; SIGKILL whatever hangs."""
        _terminate([c for c in self.children if c.name == "web"])
        _terminate([c for c in self.children if c.name != "web"])
        if self.redis is not None:
            self.redis.stop(timeout=STOP_GRACE)
        elif self.redis_url:
            _forget_keys(self.redis_url, self.prefix)


def _reachable(url: str | None) -> str | None:
    """The given Redis URL once it answers PING, so a wrong URL fails now, not at a timeout."""
    if url is None:
        return None
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {_hide_password(url)} does not answer: {exc}") from None
    finally:
        client.close()
    return url


def _terminate(children: list[Child]) -> None:
    running = [c.process for c in children if c.process is not None and not c.exited]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _forget_keys(url: str, prefix: str) -> None:
    """Removes the bench's keys from a Redis the bench does not own."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)
    except redis.RedisError as exc:
        _say(f"could not remove the keys under {prefix!r}: {exc}")
    finally:
        client.close()


def _get_json(url: str) -> Any:
    """The decoded body of a 200 answer, else None (not up yet, or not ready)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):  # urllib.error.URLError and HTTPError are OSErrors
        return None


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (0.0 where there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """Busy CPU time of the whole machine: shows whether anything else competed for the CPUs."""
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    busy = sum(ticks[0:3]) + sum(ticks[5:7])  # user, nice, system, irq, softirq
    return busy / os.sysconf("SC_CLK_TCK")


def _cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    snapshot = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    snapshot["bench client"] = time.process_time()
    snapshot["machine"] = _machine_busy_seconds()
    return snapshot


# The client ----------------------------------------------------------------------------------


def _text(ref: int) -> str:
    return f"hello {ref}"


def _job_frame(ref: int) -> str:
    message = {"type": "send", "mode": "queue", "task": "uppercase", "text": _text(ref)}
    return json.dumps({**message, "ref": ref}, separators=(",", ":"))


def _ending(event: dict[str, Any]) -> tuple[object, str | None] | None:
    """(ref, problem or None) when the event ends a job: a result (checked), an error, or a
    final failure; None for any other event."""
    kind, ref = event.get("type"), event.get("ref")
    if kind == "result":
        expected = _text(ref).upper() if isinstance(ref, int) else None
        if event.get("result") == expected:
            return ref, None
        return ref, f"job {ref!r}: result {event.get('result')!r}, expected {expected!r}"
    if kind == "error":
        return ref, f"job {ref!r}: error {event.get('code')}: {event.get('detail')}"
    if kind == "failed" and event.get("final"):
        return ref, f"job {ref!r}: failed for good: {event.get('error')}"
    return None


class Client:
    """One `/ws` connection that checks every event's `seq` is higher than the last."""

    def __init__(self, socket: ClientConnection, problems: Problems) -> None:
        self.socket = socket
        self.problems = problems
        self.seq = -1

    async def welcome(self) -> str:
        """Waits for `welcome`; returns the WebSocket extensions the server agreed to."""
        event = await self.receive()
        if event.get("type") != "welcome":
            raise BenchError(f"expected a welcome event first, got {event!r}")
        response = self.socket.response
        extensions = response.headers.get("Sec-WebSocket-Extensions") if response else None
        return extensions or "none"

    async def receive(self) -> dict[str, Any]:
        event = json.loads(await self.socket.recv())
        if not isinstance(event, dict):
            raise BenchError(f"an event that is not a JSON object: {event!r}")
        seq = event.get("seq")
        if isinstance(seq, int) and seq > self.seq:
            self.seq = seq
        else:
            self.problems.add(f"event {event.get('type')!r} has seq {seq!r} after {self.seq}")
        return event

    async def send_job(self, ref: int) -> None:
        await self.socket.send(_job_frame(ref))


@dataclass
class Tally:
    """The throughput phase, per job (the ref is the job's index)."""

    sent: list[float]
    ended: list[float]  # first result or error; 0.0 while outstanding
    results: list[int]
    problems: Problems

    @classmethod
    def empty(cls, jobs: int) -> Tally:
        return cls([0.0] * jobs, [0.0] * jobs, [0] * jobs, Problems())

    @property
    def outstanding(self) -> int:
        return self.ended.count(0.0)

    def verify(self) -> None:
        """No job has two results (missing, wrong and failed ones were counted as they came)."""
        for ref, count in enumerate(self.results):
            if count > 1:
                self.problems.add(f"job {ref}: {count} results, expected exactly 1")

    def figures(self, connections: int, cpu: dict[str, float]) -> Throughput:
        first, last = min(self.sent), max(self.ended)
        seconds = max(last - first, 1e-9)
        latencies = [
            e - s for s, e, n in zip(self.sent, self.ended, self.results, strict=True) if n
        ]
        per_second = len(self.sent) / seconds
        return Throughput(
            len(self.sent), connections, WINDOW, seconds, per_second, Spread.of(latencies), cpu
        )


class Pipeline:
    """One connection's share of the throughput phase: sends with at most WINDOW outstanding,
    reads until every one of its jobs has ended."""

    def __init__(self, client: Client, refs: range, tally: Tally) -> None:
        self.client = client
        self.refs = refs
        self.tally = tally
        self.slots = asyncio.Semaphore(WINDOW)
        self.left = len(refs)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._send_all())
            await self._read_all()

    async def _send_all(self) -> None:
        for ref in self.refs:
            await self.slots.acquire()
            self.tally.sent[ref] = time.perf_counter()
            await self.client.send_job(ref)

    async def _read_all(self) -> None:
        while self.left:
            ending = _ending(await self.client.receive())
            if ending is not None:
                self._end(*ending)

    def _end(self, ref: object, problem: str | None) -> None:
        tally = self.tally
        if not isinstance(ref, int) or ref not in self.refs:
            tally.problems.add(
                problem or f"an event for a job this connection did not send: {ref!r}"
            )
            return
        if problem is None:
            tally.results[ref] += 1
        else:
            tally.problems.add(problem)
        if not tally.ended[ref]:
            tally.ended[ref] = time.perf_counter()
            self.left -= 1
            self.slots.release()


async def _throughput_phase(url: str, options: QueueBench, tally: Tally) -> str:
    """Opens every connection and waits for every welcome before the first send."""
    count = options.connections
    async with _connections(url, count) as sockets:
        clients = [Client(socket, tally.problems) for socket in sockets]
        extensions = [await client.welcome() for client in clients]
        pipelines = [
            Pipeline(client, range(index, options.jobs, count), tally)
            for index, client in enumerate(clients)
        ]
        async with asyncio.TaskGroup() as group:
            for pipeline in pipelines:
                group.create_task(pipeline.run())
    return extensions[0]


@contextlib.asynccontextmanager
async def _connections(url: str, count: int) -> AsyncIterator[list[ClientConnection]]:
    """`count` open connections to `url`, closed together on the way out. The close timeout is
    short: a phase cut off at the time limit leaves unread frames that hold up a clean close."""
    sockets: list[ClientConnection] = []
    try:
        for _ in range(count):
            sockets.append(await connect(url, open_timeout=10, close_timeout=1))
        yield sockets
    finally:
        await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)


async def _latency_phase(url: str, jobs: int, problems: Problems) -> list[float]:
    """One job at a time on one connection: send, wait for its result, repeat."""
    samples: list[float] = []
    async with _connections(url, 1) as (socket,):
        client = Client(socket, problems)
        await client.welcome()
        for ref in range(WARMUP + jobs):
            started = time.perf_counter()
            await client.send_job(ref)
            problem = await _until_ended(client, ref)
            if problem is not None:
                problems.add(problem)
            elif ref >= WARMUP:
                samples.append(time.perf_counter() - started)
    return samples


async def _until_ended(client: Client, ref: int) -> str | None:
    while True:
        ending = _ending(await client.receive())
        if ending is None:
            continue
        if ending[0] == ref:
            return ending[1]
        client.problems.add(f"an event for job {ending[0]!r} while waiting for job {ref}")


class SigtermHandler:
    """SIGTERM stops the bench as Ctrl-C does: outside a phase it raises KeyboardInterrupt, in
    one it cancels the phase, since an exception raised inside an event loop callback would be
    taken for a failed connection instead of stopping the run."""

    def __init__(self) -> None:
        self.phase: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self.received = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received = True
        if self.phase is None:
            raise KeyboardInterrupt
        loop, task = self.phase
        task.cancel()
        loop.call_soon_threadsafe(lambda: None)  # wakes the loop, as asyncio does for Ctrl-C


_sigterm = SigtermHandler()


def _run_phase(coroutine: Coroutine[Any, Any, T], deadline: float, what: str) -> T:
    """Runs one phase in its own event loop, cut off at the bench's deadline."""

    async def bounded() -> T:
        task = asyncio.current_task()
        assert task is not None
        _sigterm.phase = (asyncio.get_running_loop(), task)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                return await coroutine
        finally:
            _sigterm.phase = None

    # uvloop, like the processes measured: the cheaper the client, the less it skews them.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        try:
            return runner.run(bounded())
        except TimeoutError:
            raise BenchError(f"stopped at the {TIME_LIMIT:g}s limit during {what}") from None
        except OSError as exc:
            raise BenchError(f"{what}: connection failed: {exc}") from None
        except asyncio.CancelledError:
            if _sigterm.received:
                raise KeyboardInterrupt from None
            raise


# The run -------------------------------------------------------------------------------------


def run_queue_bench(options: QueueBench) -> int:
    """Runs the bench and prints its report; 0 when every job came back right, else 1."""
    _sigterm.received = False
    previous = signal.signal(signal.SIGTERM, _sigterm)
    deadline = time.monotonic() + TIME_LIMIT
    try:
        with tempfile.TemporaryDirectory(prefix="courier-bench-") as directory:
            stack = Stack(options, Path(directory))
            try:
                report = _measure(stack, options, deadline)
            finally:
                _say("stopping the processes")
                stack.stop()
    except BenchError as exc:
        _say(str(exc))
        return 1
    except KeyboardInterrupt:
        _say("interrupted; everything it started is stopped")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(_as_json(report) if options.as_json else format_report(report))
    return 0 if report.ok else 1


def _measure(stack: Stack, options: QueueBench, deadline: float) -> Report:
    redis_server = "" if options.redis_url else "redis-server, "
    _say(f"starting {redis_server}1 web, {options.workers} worker(s)")
    stack.start(deadline)
    ws_url = stack.base_url.replace("http://", "ws://", 1) + "/ws"
    tally = Tally.empty(options.jobs)
    _say(f"throughput: {options.jobs} jobs over {options.connections} connection(s)")
    before, started = _cpu_snapshot(stack.pids()), time.monotonic()
    try:
        extensions = _run_phase(_throughput_phase(ws_url, options, tally), deadline, "throughput")
    except BenchError as exc:
        raise BenchError(f"{exc}; {tally.outstanding} of {options.jobs} jobs outstanding") from None
    after, wall = _cpu_snapshot(stack.pids()), time.monotonic() - started
    tally.verify()
    cpu = {name: round(after[name] - before[name], 2) for name in before}
    cpu["wall"] = round(wall, 2)
    report = Report(options.command(), _now(), _layout(stack, options, extensions))
    report.throughput = tally.figures(options.connections, cpu)
    problems = tally.problems
    if options.latency_jobs:
        _say(f"latency: {options.latency_jobs} jobs one at a time")
        phase = _latency_phase(ws_url, options.latency_jobs, problems)
        samples = _run_phase(phase, deadline, "latency")
        report.latency = Latency(options.latency_jobs, WARMUP, Spread.of(samples))
    report.problems, report.problem_count = problems.first, problems.count
    return report


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _layout(stack: Stack, options: QueueBench, extensions: str) -> Layout:
    loop = "uvloop" if event_loop_factory() is not None else "asyncio"
    return Layout(
        web=1,
        workers=options.workers,
        worker_concurrency=options.concurrency,
        redis=stack.redis_version(),
        cpus=os.cpu_count() or 0,
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        client_loop=loop,
        websocket_extensions=extensions,
    )


# The report ----------------------------------------------------------------------------------


def _as_json(report: Report) -> str:
    body = asdict(report)
    body["ok"] = report.ok
    return json.dumps(body, indent=2)


def format_report(report: Report) -> str:
    layout = report.layout
    lines = [
        f"courier bench queue, {report.date}",
        f"  command     {report.command}",
        f"  processes   1 web, {layout.workers} worker(s) (concurrency {layout.worker_concurrency})"
        f", {layout.redis}",
        f"  machine     {layout.cpus} CPUs, Python {layout.python}, {layout.platform}",
        f"  client      this process, {layout.client_loop}, WebSocket extensions: "
        f"{layout.websocket_extensions}",
    ]
    if report.throughput is not None:
        lines += _throughput_lines(report.throughput, layout.cpus or 1)
    if report.latency is not None:
        lines += _latency_lines(report.latency)
    lines.append("")
    if report.ok:
        lines.append("  ok: every job got exactly one result, upper-cased, events in seq order")
    else:
        lines.append(f"  PROBLEMS: {report.problem_count}")
        lines += [f"    {problem}" for problem in report.problems]
    return "\n".join(lines)


def _throughput_lines(figures: Throughput, cpus: int) -> list[str]:
    wall = figures.cpu_seconds.get("wall", 0.0) or 1.0
    cpu = ", ".join(
        f"{name} {seconds:.2f}s ({seconds / wall:.0%})"
        for name, seconds in figures.cpu_seconds.items()
        if name not in ("wall", "machine")
    )
    machine = figures.cpu_seconds.get("machine", 0.0)
    return [
        "",
        f"  throughput  {figures.jobs} uppercase jobs over {figures.connections} connection(s),"
        f" up to {figures.window} outstanding per connection",
        f"              {figures.jobs_per_second:,.0f} jobs/s"
        f" ({figures.seconds:.2f}s from first send to last result)",
        f"              latency under load: {_spread(figures.latency_ms)}",
        f"              CPU over the {wall:.2f}s phase: {cpu}",
        f"              whole machine: {machine:.2f}s busy,"
        f" {machine / wall / cpus:.0%} of {cpus} CPUs",
    ]


def _latency_lines(figures: Latency) -> list[str]:
    return [
        "",
        f"  latency     {figures.jobs} jobs one at a time on one connection"
        f" (after {figures.warmup} unmeasured)",
        f"              {_spread(figures.latency_ms)}",
    ]


def _spread(spread: Spread | None) -> str:
    if spread is None:
        return "no samples"
    return (
        f"p50 {spread.p50:.2f} ms, p99 {spread.p99:.2f} ms,"
        f" mean {spread.mean:.2f} ms, max {spread.max:.2f} ms"
    )
