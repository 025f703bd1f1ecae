"""A virtual environment of its own for each peer `courier bench peers` runs, never Courier's.

No one environment can hold them all, each with a redis-py it supports: arq 0.28 requires
redis-py < 6, SAQ's redis extra < 8, Celery 5.7 pins python-dateutil 2.9 and kombu's redis extra
packaging 26.3, and broadcaster 0.3.1 loses messages with redis-py 8. Installed into Courier's
environment, any of them would change what Courier itself runs on. So each peer gets a venv
under the user's cache folder, made with this Python on `courier bench peers --install`: its
own pinned release, Courier's redis-py where the peer allows it (else the newest it allows),
and Courier's versions of hiredis, uvloop and the web stack, so only the peer differs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

INSTALL_TIMEOUT = 300.0  # seconds for one environment's pip install
VERSIONS = "versions.json"  # written last: an environment without it is not ready


def _courier(package: str) -> str:
    """`package==<the version in Courier's environment>`, or the bare name if it has none."""
    try:
        return f"{package}=={metadata.version(package)}"
    except metadata.PackageNotFoundError:
        return package


@dataclass(frozen=True)
class PeerEnv:
    name: str
    pins: tuple[str, ...]  # the peer and the redis-py it runs on
    shared: tuple[str, ...]  # taken at Courier's own versions
    packages: tuple[str, ...]  # the versions a report names

    def requirements(self) -> list[str]:
        return [*self.pins, *(_courier(package) for package in self.shared)]


def environments() -> dict[str, PeerEnv]:
    web = ("hiredis", "uvloop", "fastapi", "uvicorn", "httptools", "websockets", "anyio")
    return {
        env.name: env
        for env in (
            PeerEnv("arq", ("arq==0.28.0", "redis==5.3.1"), ("hiredis", "uvloop"), ("arq",)),
            # typing_extensions: imported by SAQ 0.26.4, which does not declare it.
            PeerEnv(
                "saq",
                ("saq==0.26.4", "redis==7.4.1", "typing_extensions"),
                ("hiredis", "uvloop"),
                ("saq",),
            ),
            PeerEnv("rq", ("rq==3.0.0", _courier("redis")), ("hiredis",), ("rq",)),
            PeerEnv(
                "celery",
                ("celery[redis]==5.7.0", _courier("redis")),
                ("hiredis",),
                ("celery", "kombu"),
            ),
            PeerEnv(
                "broadcaster",
                ("broadcaster==0.3.1", "redis==7.4.1"),
                web,
                ("broadcaster", "fastapi", "uvicorn", "websockets"),
            ),
        )
    }


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "courier" / "bench-peers"


def folder(env: PeerEnv) -> Path:
    return cache_root() / env.name


def python(env: PeerEnv) -> Path:
    return folder(env) / "bin" / "python"


def versions(env: PeerEnv) -> dict[str, str] | None:
    """The versions installed, when the environment is ready and holds what this Courier pins;
    else None."""
    try:
        found = json.loads((folder(env) / VERSIONS).read_text())
    except (OSError, ValueError):
        return None
    if found.get("requirements") != env.requirements() or not python(env).exists():
        return None
    return {str(k): str(v) for k, v in found.get("versions", {}).items()}


def missing_note(env: PeerEnv) -> str:
    if (folder(env) / VERSIONS).exists():
        return "its environment holds other versions; `courier bench peers --install` renews it"
    return f"no environment at {folder(env)}; `courier bench peers --install` makes it"


def install(env: PeerEnv) -> str | None:
    """Makes (or renews) the environment; None when done, else why not, in one line."""
    if versions(env) is not None:
        return None
    with _locked(env):
        if versions(env) is not None:  # made meanwhile by another run
            return None
        shutil.rmtree(folder(env), ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(folder(env))],
            [str(python(env)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             *env.requirements()],
        ]  # fmt: skip
        for step in steps:
            failure = _run(step)
            if failure:
                return failure
        return _record(env)


def _run(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[2]} failed: {exc}"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return f"{' '.join(argv[1:4])}: {lines[-1] if lines else f'exit {done.returncode}'}"


def _record(env: PeerEnv) -> str | None:
    names = [*env.packages, "redis", "hiredis"]
    script = (
        "import json, sys; from importlib import metadata\n"
        "print(json.dumps({n: metadata.version(n) for n in sys.argv[1:]}))"
    )
    try:
        found = subprocess.run(
            [str(python(env)), "-c", script, *names],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        installed = json.loads(found.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return f"could not read the versions installed: {exc}"
    record = {"requirements": env.requirements(), "versions": installed}
    (folder(env) / VERSIONS).write_text(json.dumps(record, indent=2))
    return None


@contextlib.contextmanager
def _locked(env: PeerEnv) -> Iterator[None]:
    """One run at a time makes a given environment (tests run side by side)."""
    cache_root().mkdir(parents=True, exist_ok=True)
    with (cache_root() / f"{env.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
